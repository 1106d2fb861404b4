"""Strict, bounded decoding of untrusted Candid messages at the types a method expects.

The value stream is read once, directly at the pair (wire type, expected type), applying the spec's coercion
rules on the way. Where the spec turns a failed coercion into `null` (under `opt`), the reader rewinds and
skips the value at its wire type instead, which still validates it.

Three limits keep hostile input from hanging the server: counts and lengths are checked against the bytes
left, recursion is capped at `MAX_DEPTH` (also the answer to legal but uninhabited types such as
`type T = record { T }`), and every step (value, table entry, subtype check) spends fuel from a budget.

The budget is proportional to the input for small messages but capped at `MAX_FUEL` whatever the size,
because a step costs Python about half a microsecond: 8 units per byte of a 2 MiB argument would allow seconds
of work on the canister's worker thread, during which nobody else's call runs. The cap is sized so that
the costliest input we could construct decodes or fails within about 100 ms (docs/performance.md,
"Hostile input: decoder worst cases"). Work that is not one step per value is priced by what it costs:
a vector of zero-sized elements (`vec null`, `vec record {}` of length 2^40) or of a primitive is
charged its whole length up front, before any element is looked at, the way the Rust decoder's decoding
quota charges it; long numbers, texts and blobs are charged per block of bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from emulator.candid.leb128 import leb_end, read_sleb, read_uleb
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
    Field,
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
    is_nullable,
    kind,
    resolve,
)
from emulator.principal import MAX_PRINCIPAL_BYTES, Principal

MAGIC = b"DIDL"
# `depth` counts the decoder's own stack frames (every recursive call passes depth + 1), so this bound
# leaves room under CPython's default recursion limit of 1000 for whoever calls us. Nesting costs one or
# two frames per level, so values may nest about 300 levels deep.
MAX_DEPTH = 600
FUEL_PER_BYTE = 8  # real messages use well under 1 unit per byte (the golden vectors: 0.27)
FUEL_BASE = 50_000
MAX_FUEL = 200_000
"""The most steps any one message may take, whatever its size: 55-70 ms of work on a quiet machine.

A 1 MiB `put_chunk` takes about 1,050 units. The largest structured argument benchmarks/test_codec.py
decodes, 10,000 four-field records with three texts each (500 kB), takes 190,000: it fits, and is
about the most an argument can hold and still decode within the 100 ms bound.
"""
BYTES_PER_UNIT = 1024  # texts and blobs: one unit per KiB copied or validated
LEB_BYTES_PER_UNIT = 8  # long nat/int: one unit per 8 bytes, the repacking loop's stride
# Work dearer than one step, in steps (a step is 0.3-0.5 µs here; see benchmarks/hostile_decode.py).
ENTRY_UNITS = 16  # a type-table entry: a Knot, a type object and its checks
FIELD_UNITS = 20  # a record/variant field or service method in the table: sorted, checked, indexed twice
TEXT_UNITS = 1  # a text value: UTF-8 validation and a str object
PRINCIPAL_UNITS = 5  # a principal value: its checksum and object
VEC_UNITS = 2  # a vector header, on top of its elements
VARIANT_UNITS = 1  # a variant tag, on top of its content
OPT_UNITS = 3  # an option tag, on top of its content (options nest: deep Python frames cost more)
NUMBER_UNITS = 2  # a fixed-width number or float: a slice and a conversion
MISMATCH_UNITS = 10  # a value refused under `opt`: an exception with its message, a rewind
_MAX_LEN_BYTES = 10  # lengths, counts, ids and type indices are at most 64-bit quantities

_OPCODE_PRIMS = {p.value: p for p in Prim}
_ANNOTATIONS = {1: "query", 2: "oneway", 3: "composite_query"}
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


class _Mismatch(CandidError):
    """A well-formed value that does not coerce to the expected type; under `opt` this reads as null."""


class OverBudget(Exception):
    """A decode with a lowered budget (`decode_args(..., fuel=...)`) ran out of it.

    Deliberately not a `CandidError`: it is never an answer. The message's own budget is at least as
    large, so decoding again without `fuel` gives the message's real outcome.
    """


def decode_args(data: bytes, types: Sequence[Type], *, fuel: int | None = None) -> list[Any]:
    """Decode a whole argument (or reply) message at the expected types.

    `fuel` lowers the budget for a cheap first attempt (the server decodes small arguments where they
    arrive instead of handing them to its decode pool). Fuel only ever decreases and every step checks it
    the same way, so a decode that finishes within the lower budget takes exactly the steps, and gives
    exactly the values or the `CandidError`, of a decode with the message's own budget; one that runs out
    raises `OverBudget` instead of the "decoding cost exceeds the limit" refusal, which might not be the
    message's answer.
    """
    decoder = _Decoder(bytes(data))
    if fuel is None or fuel >= decoder.fuel:
        return decoder.args(types)
    decoder.fuel = fuel
    try:
        return decoder.args(types)
    except CandidError:
        if decoder.fuel < 0:  # only `spend` drives it below zero, and it raises at once when it does
            raise OverBudget from None
        raise


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.fuel = min(FUEL_PER_BYTE * max(len(data), 1) + FUEL_BASE, MAX_FUEL)
        self.zero_sized: dict[int, bool] = {}  # wire types (by object id) whose values take no bytes
        self.assumed: set[tuple[int, int]] = set()  # subtype pairs (by object id) taken to hold
        self.trail: list[tuple[int, int]] = []  # the same pairs in the order they were assumed

    # -- bytes -------------------------------------------------------------------------------------------

    def spend(self, units: int) -> None:
        self.fuel -= units
        if self.fuel < 0:
            raise CandidError("decoding cost exceeds the limit for this message")

    def take(self, n: int) -> bytes:
        if n >= BYTES_PER_UNIT:
            self.spend(n // BYTES_PER_UNIT)
        end = self.pos + n
        if end > len(self.data):
            raise CandidError("unexpected end of input")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise CandidError("unexpected end of input")
        self.pos += 1
        return self.data[self.pos - 1]

    def uleb(self) -> int:
        pos = self.pos
        if pos < len(self.data) and self.data[pos] < 0x80:  # most lengths and indices: one byte
            self.pos = pos + 1
            return self.data[pos]
        value, self.pos = read_uleb(self.data, pos, _MAX_LEN_BYTES)
        return value

    def sleb(self) -> int:
        value, self.pos = read_sleb(self.data, self.pos, _MAX_LEN_BYTES)
        return value

    def count(self, what: str) -> int:
        """A length or count of items that each occupy at least one byte."""
        n = self.uleb()
        if n > len(self.data) - self.pos:
            raise CandidError(f"{what} {n} exceeds the remaining input")
        return n

    def items(self, what: str, unit_cost: int = 1) -> int:
        """A count of entries (arguments, table entries, fields, methods), paid for before any is read."""
        n = self.count(what)
        self.spend(n * unit_cost)
        return n

    def field_id(self) -> int:
        n = self.uleb()
        if n >= 2**32:
            raise CandidError("field id does not fit in 32 bits")
        return n

    def price_number(self) -> None:
        """Charge an unbounded nat/int by its length before it is converted (a 2 MiB one takes 0.2 s)."""
        if self.pos < len(self.data) and self.data[self.pos] >= 0x80:
            self.spend((leb_end(self.data, self.pos) - self.pos) // LEB_BYTES_PER_UNIT)

    def text(self) -> str:
        n = self.count("text length")
        self.spend(TEXT_UNITS + n // BYTES_PER_UNIT)
        start = self.pos
        self.pos += n  # `count` checked that the bytes are there
        try:
            return self.data[start : self.pos].decode("utf-8")
        except UnicodeDecodeError:
            raise CandidError("text is not valid UTF-8") from None

    def principal(self) -> Principal:
        if self.byte() != 1:
            raise CandidError("opaque reference instead of a principal id")
        n = self.count("principal length")
        if n > MAX_PRINCIPAL_BYTES:
            raise CandidError(f"principal longer than {MAX_PRINCIPAL_BYTES} bytes")
        self.spend(PRINCIPAL_UNITS)
        return Principal(self.take(n))

    def func_ref(self) -> FuncRef:
        if self.byte() != 1:
            raise CandidError("opaque function reference")
        return FuncRef(self.principal(), self.text())

    def prim(self, p: Prim) -> Any:
        if p is TEXT:
            return self.text()
        if p is NULL or p is RESERVED:
            return None
        if p is BOOL:
            b = self.byte()
            if b > 1:
                raise CandidError(f"invalid bool byte {b}")
            return b == 1
        if p is NAT:
            if self.pos < len(self.data) and self.data[self.pos] < 0x80:  # the common one-byte nat
                self.pos += 1
                return self.data[self.pos - 1]
            self.price_number()
            value, self.pos = read_uleb(self.data, self.pos)
            return value
        if p is INT:
            self.price_number()
            value, self.pos = read_sleb(self.data, self.pos)
            return value
        if p in _FIXED:
            self.spend(NUMBER_UNITS)
            width, signed = _FIXED[p]
            return int.from_bytes(self.take(width), "little", signed=signed)
        if p is FLOAT32:
            self.spend(NUMBER_UNITS)
            return _F32.unpack(self.take(4))[0]
        if p is FLOAT64:
            self.spend(NUMBER_UNITS)
            return _F64.unpack(self.take(8))[0]
        if p is PRINCIPAL:
            return self.principal()
        raise CandidError("a value of type empty cannot be decoded")

    # -- types -------------------------------------------------------------------------------------------

    def args(self, expected: Sequence[Type]) -> list[Any]:
        if self.data[:4] != MAGIC:
            raise CandidError("missing DIDL magic number")
        self.pos = 4
        table = self.table()
        wire = [self.type_ref(table) for _ in range(self.items("argument count"))]
        values: list[Any] = []
        for i, e in enumerate(expected):
            try:
                if i < len(wire):
                    values.append(self.value(wire[i], e, 0))
                elif is_nullable(e):
                    values.append(None)
                else:
                    raise CandidError(f"missing argument of type {kind(e)}")
            except CandidError as exc:
                raise CandidError(f"argument {i}: {exc}") from None
        for w in wire[len(expected) :]:
            self.skip(w, 0)
        if self.pos != len(self.data):
            raise CandidError(f"{len(self.data) - self.pos} unexpected bytes after the last value")
        return values

    def type_ref(self, table: list[Knot]) -> Type:
        """An inline type: a primitive opcode or an index into the type table."""
        code = self.sleb()
        if code >= 0:
            if code >= len(table):
                raise CandidError(f"type index {code} out of range")
            return table[code]
        if code not in _OPCODE_PRIMS:
            raise CandidError(f"type opcode {code} is not a primitive type")
        return _OPCODE_PRIMS[code]

    def fields(self, table: list[Knot], what: str) -> tuple[Field, ...]:
        fields: list[Field] = []
        for _ in range(self.items(f"{what} field count", FIELD_UNITS)):
            fid = self.field_id()
            if fields and fid <= fields[-1].id:
                raise CandidError(f"{what} field ids not strictly increasing")
            fields.append(Field(None, fid, self.type_ref(table)))
        return tuple(fields)

    def table(self) -> list[Knot]:
        table = [Knot(f"table entry {i}") for i in range(self.items("type table length", ENTRY_UNITS))]
        for knot in table:
            code = self.sleb()
            entry: Type
            if code == -18:
                entry = Opt(self.type_ref(table))
            elif code == -19:
                entry = Vec(self.type_ref(table))
            elif code == -20:
                entry = Record(self.fields(table, "record"))
            elif code == -21:
                entry = Variant(self.fields(table, "variant"))
            elif code == -22:
                entry = self.func_type(table)
            elif code == -23:
                entry = self.service_type(table)
            elif code < -24:
                self.take(self.count("future type length"))
                entry = Future(code)
            else:
                raise CandidError(f"type opcode {code} is not allowed in the type table")
            knot.tie(entry)
        for knot in table:
            entry = knot.target
            if isinstance(entry, Service):
                for name, method in entry.methods:
                    if not isinstance(resolve(method), Func):
                        raise CandidError(f"service method {name!r} does not have a function type")
        return table

    def func_type(self, table: list[Knot]) -> Func:
        args = tuple(self.type_ref(table) for _ in range(self.items("function argument count")))
        results = tuple(self.type_ref(table) for _ in range(self.items("function result count")))
        modes = set()
        for _ in range(self.items("function annotation count")):
            code = self.byte()
            if code not in _ANNOTATIONS:
                raise CandidError(f"unknown function annotation {code}")
            modes.add(_ANNOTATIONS[code])
        return Func(args, results, frozenset(modes))

    def service_type(self, table: list[Knot]) -> Service:
        methods: list[tuple[str, Type]] = []
        for _ in range(self.items("service method count", FIELD_UNITS)):
            name = self.text()
            if methods and name <= methods[-1][0]:
                raise CandidError("service method names not strictly increasing")
            code = self.sleb()
            if not 0 <= code < len(table):
                raise CandidError(f"service method {name!r} does not refer to a function type")
            methods.append((name, table[code]))
        return Service(tuple(methods))

    # -- values ------------------------------------------------------------------------------------------

    def value(self, w: Type, e: Type, depth: int) -> Any:
        """Read a value of wire type `w` and coerce it to expected type `e`."""
        if depth > MAX_DEPTH:
            raise CandidError("value nested too deeply")
        self.fuel -= 1  # spend(1), inlined: this and `skip` run once per value
        if self.fuel < 0:
            self.spend(0)
        if type(w) is Knot:  # resolve() inlined for the common case: this runs once per value
            w = w.target
        if type(e) is Knot:
            e = e.target
        if w is EMPTY:
            raise CandidError("a value of type empty cannot be decoded")
        if e is RESERVED:
            self.skip(w, depth + 1)
            return None
        if isinstance(e, Opt):
            return self.option(w, e.inner, depth + 1)
        if isinstance(e, Prim):
            if w is e:
                return self.prim(e)
            if e is INT and w is NAT:
                return self.prim(NAT)
            if e is PRINCIPAL and isinstance(w, Service):
                return self.principal()
        elif isinstance(e, Vec) and isinstance(w, Vec):
            wi, ei = resolve(w.inner), resolve(e.inner)
            if wi is NAT8 and ei is NAT8:
                return self.take(self.count("blob length"))
            n = self.vec_len(wi)
            if wi is ei and isinstance(wi, Prim) and wi is not NULL and wi is not RESERVED:
                # Same primitive on both sides: read the elements directly, charging what value() would.
                self.spend(n)
                return [self.prim(wi) for _ in range(n)]
            items = []
            for _ in range(n):  # a loop, not a comprehension: no uncounted frame
                item = self.value(w.inner, e.inner, depth + 1)
                if item is None and self.is_zero_sized(w.inner):
                    # Zero-sized elements all read alike (no bytes, same types), and None is immutable.
                    return [None] * n
                items.append(item)
            return items
        elif isinstance(e, Record) and isinstance(w, Record):
            return self.record(w, e, depth + 1)
        elif isinstance(e, Variant) and isinstance(w, Variant):
            tag = self.variant_tag(w)
            if tag.id not in e.by_id:
                raise _Mismatch(f"unexpected variant tag {tag.id}")
            field = e.by_id[tag.id]
            return {field.key: self.value(tag.type, field.type, depth + 1)}
        elif isinstance(e, Func | Service) and type(w) is type(e):
            if not self.subtype(w, e, depth + 1):
                raise _Mismatch(f"{kind(w)} reference type is not a subtype of the expected one")
            return self.func_ref() if isinstance(e, Func) else self.principal()
        raise _Mismatch(f"expected {kind(e)}, found {kind(w)}")

    def option(self, w: Type, inner: Type, depth: int) -> Any:
        if w is NULL or w is RESERVED:
            return None
        if isinstance(w, Opt):
            if not self.option_tag():
                return None
            w = w.inner
        start = self.pos
        try:
            v = self.value(w, inner, depth + 1)
        except _Mismatch:
            self.spend(MISMATCH_UNITS)
            self.pos = start
            self.skip(w, depth + 1)
            return None
        return Some(v) if is_nullable(inner) else v

    def record(self, w: Record, e: Record, depth: int) -> Any:
        self.spend(1 + len(e.fields))  # the Python value built, and each of its fields, present or not
        out: dict[str | int, Any] = {}
        expected = iter(e.fields)
        pending = next(expected, None)
        for wf in w.fields:
            while pending is not None and pending.id < wf.id:
                self.missing_field(pending, out)
                pending = next(expected, None)
            if pending is not None and pending.id == wf.id:
                out[pending.key] = self.value(wf.type, pending.type, depth + 1)
                pending = next(expected, None)
            else:
                self.skip(wf.type, depth + 1)
        while pending is not None:
            self.missing_field(pending, out)
            pending = next(expected, None)
        return tuple(out.values()) if e.is_tuple else out

    def missing_field(self, field: Field, out: dict[str | int, Any]) -> None:
        self.spend(1)  # costs no input bytes, so it must cost fuel
        if not is_nullable(field.type):
            raise _Mismatch(f"record field {field.key!r} is missing")
        out[field.key] = None

    def option_tag(self) -> bool:
        self.spend(OPT_UNITS)
        tag = self.byte()
        if tag > 1:
            raise CandidError(f"invalid option tag {tag}")
        return tag == 1

    def variant_tag(self, w: Variant) -> Field:
        self.spend(VARIANT_UNITS)
        index = self.uleb()
        if index >= len(w.fields):
            raise CandidError(f"variant index {index} out of range")
        return w.fields[index]

    def vec_len(self, elem: Type) -> int:
        """Element count: checked against the input left, or, for zero-sized elements, paid for in bulk.

        Any other element takes at least one byte, so the input bounds the count; zero-sized elements
        cost no bytes, so the whole count is charged at once, before the first element is read.
        """
        if not self.is_zero_sized(elem):
            self.spend(VEC_UNITS)
            return self.count("vector length")
        n = self.uleb()
        self.spend(VEC_UNITS + n)
        return n

    def is_zero_sized(self, w: Type) -> bool:
        """Whether every value of wire type `w` takes no bytes: null, reserved, records of those.

        A record that contains itself has no finite value at all; it counts as not zero-sized, so its
        vectors are bounded by the input and its first value fails at the depth limit.
        """
        w = resolve(w)
        if w is NULL or w is RESERVED:
            return True
        if not isinstance(w, Record):
            return False
        known = self.zero_sized.get(id(w))
        if known is not None:
            return known
        self.zero_sized[id(w)] = False  # while under consideration: a cycle means "not zero-sized"
        for f in w.fields:
            self.spend(1)
            if not self.is_zero_sized(f.type):
                return False
        self.zero_sized[id(w)] = True
        return True

    def skip(self, w: Type, depth: int) -> None:
        """Read and validate a value of wire type `w` whose content nobody wants."""
        if depth > MAX_DEPTH:
            raise CandidError("value nested too deeply")
        self.fuel -= 1
        if self.fuel < 0:
            self.spend(0)
        if type(w) is Knot:
            w = w.target
        if isinstance(w, Prim):
            self.prim(w)
        elif isinstance(w, Opt):
            if self.option_tag():
                self.skip(w.inner, depth + 1)
        elif isinstance(w, Vec):
            if resolve(w.inner) is NAT8:
                self.take(self.count("blob length"))
            else:
                inner = resolve(w.inner)
                n = self.vec_len(inner)
                if isinstance(inner, Prim):  # read directly, charging what skip() would
                    self.spend(n)
                    for _ in range(n):
                        self.prim(inner)
                elif not self.is_zero_sized(inner):  # zero-sized elements have nothing to read or check
                    for _ in range(n):
                        self.skip(inner, depth + 1)
        elif isinstance(w, Record):
            for f in w.fields:
                self.skip(f.type, depth + 1)
        elif isinstance(w, Variant):
            self.skip(self.variant_tag(w).type, depth + 1)
        elif isinstance(w, Func):
            self.func_ref()
        elif isinstance(w, Service):
            self.principal()
        else:
            self.take(self.count("future value length"))
            self.uleb()  # reference count: the IC has no reference table, so there is nothing to skip

    # -- subtyping (only needed for function and service references) --------------------------------------

    def subtype(self, w: Type, e: Type, depth: int) -> bool:
        """`w <: e`, coinductively: a pair already under consideration is assumed to hold."""
        if depth > MAX_DEPTH:
            raise CandidError("type nested too deeply")
        self.spend(1)
        w, e = resolve(w), resolve(e)
        if e is RESERVED or w is EMPTY or isinstance(e, Opt):
            return True  # the spec's special opt rules make every type a subtype of any option
        key = (id(w), id(e))
        if key in self.assumed:
            return True
        mark = len(self.trail)
        self.assumed.add(key)
        self.trail.append(key)
        if self.subtype_step(w, e, depth + 1):
            return True
        # Conclusions drawn since `key` was assumed may rest on that now refuted assumption: drop them all.
        self.assumed.difference_update(self.trail[mark:])
        del self.trail[mark:]
        return False

    def subtype_step(self, w: Type, e: Type, depth: int) -> bool:
        # Plain loops rather than all(...): a generator would add an uncounted frame per level.
        if isinstance(e, Prim):
            return w is e or (e is INT and w is NAT) or (e is PRINCIPAL and isinstance(w, Service))
        if isinstance(e, Vec):
            return isinstance(w, Vec) and self.subtype(w.inner, e.inner, depth + 1)
        if isinstance(e, Record):
            if not isinstance(w, Record):
                return False
            for f in e.fields:
                if f.id in w.by_id:
                    if not self.subtype(w.by_id[f.id].type, f.type, depth + 1):
                        return False
                elif not is_nullable(f.type):
                    return False
            return True
        if isinstance(e, Variant):
            if not isinstance(w, Variant):
                return False
            for f in w.fields:
                if f.id not in e.by_id or not self.subtype(f.type, e.by_id[f.id].type, depth + 1):
                    return False
            return True
        if isinstance(e, Func):
            return (
                isinstance(w, Func)
                and w.modes == e.modes
                and self.tuple_subtype(e.args, w.args, depth + 1)
                and self.tuple_subtype(w.results, e.results, depth + 1)
            )
        if isinstance(e, Service):
            if not isinstance(w, Service):
                return False
            for name, method in e.methods:
                if name not in w.by_name or not self.subtype(w.by_name[name], method, depth + 1):
                    return False
            return True
        return False

    def tuple_subtype(self, sub: tuple[Type, ...], sup: tuple[Type, ...], depth: int) -> bool:
        """Argument sequences compare like tuple records: extra trailing entries on the sub side are fine."""
        for i, t in enumerate(sup):
            if not (self.subtype(sub[i], t, depth + 1) if i < len(sub) else is_nullable(t)):
                return False
        return True
