"""Encoding replies with exactly the declared types, type-checking every value on the way.

The canister code hands us plain Python values; a wrong shape must fail here, loudly, rather than produce
bytes that a client decodes into something else.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from emulator.candid.leb128 import encode_sleb, encode_uleb
from emulator.candid.types import (
    BOOL,
    EMPTY,
    FLOAT32,
    FLOAT64,
    INT,
    NAT,
    NAT8,
    NULL,
    PRINCIPAL,
    RESERVED,
    TEXT,
    CandidError,
    Func,
    FuncRef,
    Future,
    Knot,
    Opt,
    Prim,
    Record,
    Service,
    Some,
    Type,
    Variant,
    Vec,
    kind,
    resolve,
)
from emulator.principal import Principal

_ANNOTATION_CODES = {"query": 1, "oneway": 2, "composite_query": 3}
_FIXED = {  # fixed-width numbers: (byte width, signed)
    Prim.NAT8: (1, False),
    Prim.NAT16: (2, False),
    Prim.NAT32: (4, False),
    Prim.NAT64: (8, False),
    Prim.INT8: (1, True),
    Prim.INT16: (2, True),
    Prim.INT32: (4, True),
    Prim.INT64: (8, True),
}
_F32, _F64 = struct.Struct("<f"), struct.Struct("<d")


def encode_args(types: Sequence[Type], values: Sequence[Any]) -> bytes:
    """Encode an argument (or reply) sequence; `values` must match `types` one to one."""
    return ArgsEncoder(types).encode(values)


def _header(types: Sequence[Type]) -> bytes:
    """`DIDL`, the type table and the argument types: everything that depends on the types alone."""
    table = _TypeTable()
    refs = b"".join(table.ref(t) for t in types)
    entries = b"".join(table.entries)
    return b"DIDL" + encode_uleb(len(table.entries)) + entries + encode_uleb(len(types)) + refs


def _encode_values(types: Sequence[Type], values: Sequence[Any], out: bytearray) -> bytes:
    for i, (t, v) in enumerate(zip(types, values, strict=True)):
        try:
            _value(t, v, out)
        except CandidError as exc:
            raise CandidError(f"argument {i}: {exc}") from None
    return bytes(out)


class ArgsEncoder:
    """`encode_args` for one type sequence, used again and again (a method's results).

    The header is the same bytes for every call, and building the type table was most of the cost
    of a small reply, so it is built once, on the first call that gets as far as `encode_args` would
    (after the count check), and kept; the output is `encode_args`'s, byte for byte, errors included.
    """

    def __init__(self, types: Sequence[Type]) -> None:
        self._types = tuple(types)
        self._header: bytes | None = None

    def encode(self, values: Sequence[Any]) -> bytes:
        types = self._types
        if len(types) != len(values):
            raise CandidError(f"{len(values)} values for {len(types)} types")
        header = self._header
        if header is None:
            header = self._header = _header(types)
        return _encode_values(types, values, bytearray(header))


class _TypeTable:
    """Builds the type table, sharing identical entries (as agent-js does) so replies stay compact.

    Entries are built children first and deduplicated by their bytes: equal bytes mean the same type.
    A type met again while its own entry is being built (recursion) gets its slot at that moment.
    """

    def __init__(self) -> None:
        self.entries: list[bytes] = []
        self.index: dict[int, int] = {}  # id() of a resolved type object -> its entry
        self.by_bytes: dict[bytes, int] = {}
        self.building: set[int] = set()

    def ref(self, t: Type) -> bytes:
        t = resolve(t)
        if isinstance(t, Prim):
            return encode_sleb(t.value)
        key = id(t)
        if key not in self.index:
            if key in self.building:  # a recursive reference: reserve the slot now, fill it below
                self.index[key] = len(self.entries)
                self.entries.append(b"")
            else:
                self.building.add(key)
                body = self.entry(t)
                self.building.discard(key)
                if key in self.index:
                    self.entries[self.index[key]] = body
                elif body in self.by_bytes:
                    self.index[key] = self.by_bytes[body]
                else:
                    self.index[key] = self.by_bytes[body] = len(self.entries)
                    self.entries.append(body)
        return encode_sleb(self.index[key])

    def entry(self, t: Type) -> bytes:
        if isinstance(t, Opt):
            return encode_sleb(-18) + self.ref(t.inner)
        if isinstance(t, Vec):
            return encode_sleb(-19) + self.ref(t.inner)
        if isinstance(t, Record | Variant):
            opcode = -20 if isinstance(t, Record) else -21
            body = b"".join(encode_uleb(f.id) + self.ref(f.type) for f in t.fields)
            return encode_sleb(opcode) + encode_uleb(len(t.fields)) + body
        if isinstance(t, Func):
            args = b"".join(self.ref(a) for a in t.args)
            results = b"".join(self.ref(r) for r in t.results)
            modes = bytes(sorted(_ANNOTATION_CODES[m] for m in t.modes))
            return (
                encode_sleb(-22)
                + encode_uleb(len(t.args))
                + args
                + encode_uleb(len(t.results))
                + results
                + encode_uleb(len(modes))
                + modes
            )
        if isinstance(t, Service):
            body = b"".join(_text(name) + self.ref(m) for name, m in t.methods)
            return encode_sleb(-23) + encode_uleb(len(t.methods)) + body
        raise CandidError(f"cannot encode a {kind(t)}")


def _text(s: str) -> bytes:
    try:
        raw = s.encode("utf-8")
    except UnicodeEncodeError:
        raise CandidError("text is not valid Unicode (lone surrogate)") from None
    return encode_uleb(len(raw)) + raw


def _principal(p: Any) -> bytes:
    if not isinstance(p, Principal):
        raise CandidError(f"expected a Principal, got {type(p).__name__}")
    return b"\x01" + encode_uleb(len(p.raw)) + p.raw


def _int(v: Any, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise CandidError(f"expected an int for {what}, got {type(v).__name__}")
    return v


def _prim(p: Prim, v: Any, out: bytearray) -> None:
    if p is NULL or p is RESERVED:
        if v is not None:
            raise CandidError(f"expected None for {kind(p)}, got {type(v).__name__}")
    elif p is BOOL:
        if not isinstance(v, bool):
            raise CandidError(f"expected a bool, got {type(v).__name__}")
        out.append(1 if v else 0)
    elif p is NAT:
        if _int(v, "nat") < 0:
            raise CandidError(f"negative value {v} for nat")
        out += encode_uleb(v)
    elif p is INT:
        out += encode_sleb(_int(v, "int"))
    elif p in _FIXED:
        width, signed = _FIXED[p]
        try:
            out += _int(v, kind(p)).to_bytes(width, "little", signed=signed)
        except OverflowError:
            raise CandidError(f"value {v} out of range for {kind(p)}") from None
    elif p is FLOAT32 or p is FLOAT64:
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise CandidError(f"expected a float, got {type(v).__name__}")
        try:
            out += (_F32 if p is FLOAT32 else _F64).pack(v)
        except OverflowError:
            raise CandidError(f"value {v} out of range for {kind(p)}") from None
    elif p is TEXT:
        if not isinstance(v, str):
            raise CandidError(f"expected a str for text, got {type(v).__name__}")
        out += _text(v)
    elif p is PRINCIPAL:
        out += _principal(v)
    else:
        assert p is EMPTY
        raise CandidError("no value has type empty")


def _value(t: Type, v: Any, out: bytearray) -> None:
    t = resolve(t)
    if isinstance(t, Prim):
        _prim(t, v, out)
    elif isinstance(t, Opt):
        if v is None:
            out.append(0)
        else:
            out.append(1)
            _value(t.inner, v.value if isinstance(v, Some) else v, out)
    elif isinstance(t, Vec):
        _vector(t.inner, v, out)
    elif isinstance(t, Record):
        _record(t, v, out)
    elif isinstance(t, Variant):
        if not isinstance(v, Mapping) or len(v) != 1:
            raise CandidError(f"expected a one-entry dict for a variant, got {type(v).__name__}")
        [(tag, payload)] = v.items()
        if tag not in t.by_key:
            raise CandidError(f"unknown variant tag {tag!r}")
        index, field = t.by_key[tag]
        out += encode_uleb(index)
        _value(field.type, payload, out)
    elif isinstance(t, Func):
        if not isinstance(v, FuncRef):
            raise CandidError(f"expected a FuncRef, got {type(v).__name__}")
        out += b"\x01" + _principal(v.principal) + _text(v.method)
    elif isinstance(t, Service):
        out += _principal(v)
    else:
        assert isinstance(t, Future | Knot)
        raise CandidError(f"cannot encode a {kind(t)}")


def _vector(elem: Type, v: Any, out: bytearray) -> None:
    if resolve(elem) is NAT8 and isinstance(v, bytes | bytearray | memoryview):
        # Appended in two steps: concatenating first made one more copy of a blob of up to 2 MiB.
        out += encode_uleb(len(v) if isinstance(v, bytes) else memoryview(v).nbytes)
        out += v
        return
    if not isinstance(v, list | tuple):
        raise CandidError(f"expected a list for a vec, got {type(v).__name__}")
    out += encode_uleb(len(v))
    for item in v:
        _value(elem, item, out)


def _record(t: Record, v: Any, out: bytearray) -> None:
    if t.is_tuple and isinstance(v, list | tuple):
        if len(v) != len(t.fields):
            raise CandidError(f"expected a {len(t.fields)}-tuple, got {len(v)} items")
        for f, item in zip(t.fields, v, strict=True):
            _value(f.type, item, out)
        return
    if not isinstance(v, Mapping):
        raise CandidError(f"expected a dict for a record, got {type(v).__name__}")
    for f in t.fields:
        if f.key in v:
            _value(f.type, v[f.key], out)
        elif isinstance(resolve(f.type), Opt):
            out.append(0)
        else:
            raise CandidError(f"record field {f.key!r} is missing")
    unknown = set(v) - {f.key for f in t.fields}
    if unknown:
        raise CandidError(f"unknown record field {sorted(map(repr, unknown))[0]}")
