"""Typed calls: Candid encoding/decoding with icp-py-core's codec, and ``.did`` services.

The client deliberately uses a different Candid implementation (icp-py-core's ``icp_candid``) from
the emulator's own codec, so an encoding bug cannot cancel itself out across the two sides.

Two icp-py-core traps are handled here: its encoder does no type checking (``"1"`` passed for a
``nat`` is silently encoded as 1), so arguments are checked with the type's ``covariant`` first; and
its decoder wraps each value as ``{"type": ..., "value": ...}`` and returns ``Principal`` objects,
which ``to_plain`` unwraps.

Shapes of decoded values (what ``decode_reply`` returns, per Candid type):

=========================  ====================================================================
``nat``/``int``/fixed      ``int``
``float32``/``float64``    ``float``
``bool`` / ``text``        ``bool`` / ``str``
``null`` / ``reserved``    ``None``
``blob`` (``vec nat8``)    ``bytes``
``vec T``                  ``list``
``opt T``                  ``[]`` (none) or ``[value]`` (some)
``record {a: T; ...}``     ``dict`` keyed by field name; tuple-like records (``record {T; U}``)
                           become ``list``; note ``record {}`` decodes to ``[]``
``variant {A; B: T}``      one-entry ``dict``: ``{"A": None}`` or ``{"B": value}``
``principal``              ``str`` (textual form)
``func``                   ``[principal_text, method_name]``
=========================  ====================================================================

A trailing ``blob`` argument (``put_chunk``'s chunk) is appended to the encoding of the arguments
before it, instead of going through ``encode``: icp-py-core builds the value section by concatenation
and copies a 1 MiB blob several times over (1.7-1.8 ms per MiB against ~0.1 ms for one copy, issue
13). The bytes are the same; ``tests/clients/test_ic_candid_blob.py`` compares them with ``encode``'s.

A reply with no values is ``None``, one value is returned bare, several come back as a ``tuple``.
When encoding, the same shapes are accepted; ``opt`` also takes ``None`` for none, ``principal``
takes text, bytes or a ``Principal``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from icp_candid import DIDLoader, decode, encode
from icp_candid.candid import LEB128  # the codec's own length encoder, so the bytes match encode's
from icp_principal import Principal

__all__ = ["CanisterProxy", "DidService", "Method", "decode_reply", "encode_args", "to_plain"]


@dataclass(frozen=True, slots=True)
class Method:
    """One method of a service: its Candid argument/result types and its annotations."""

    name: str
    arg_types: tuple[Any, ...]
    ret_types: tuple[Any, ...]
    modes: tuple[str, ...]

    @property
    def is_query(self) -> bool:
        """Query and composite-query methods go to the query endpoint; the rest are updates."""
        return "query" in self.modes or "composite_query" in self.modes


@dataclass(frozen=True, slots=True)
class DidService:
    """The methods of a ``.did`` service, parsed by icp-py-core's ``DIDLoader``.

    DIDLoader silently turns an undefined type name into an empty recursive type, which only fails
    later at encode time; keep ``.did`` texts complete.
    """

    methods: Mapping[str, Method]

    @classmethod
    def from_text(cls, did_text: str) -> DidService:
        parsed = DIDLoader().load_did_source(did_text)
        methods = {
            name: Method(name, tuple(func.args), tuple(func.rets), tuple(func.modes))
            for name, func in parsed["methods"].items()
        }
        return cls(methods)

    def __getitem__(self, name: str) -> Method:
        try:
            return self.methods[name]
        except KeyError:
            raise AttributeError(f"service has no method {name!r}") from None


# Blobs shorter than this go through ``encode``: copying them costs nothing worth a second path.
_BLOB_FAST_PATH_BYTES = 4096


def encode_args(arg_types: Sequence[Any], args: Sequence[Any]) -> bytes:
    """Candid-encode ``args`` at ``arg_types``, refusing values that do not fit their type."""
    if len(arg_types) != len(args):
        raise TypeError(f"expected {len(arg_types)} Candid argument(s), got {len(args)}")
    for i, (typ, value) in enumerate(zip(arg_types, args, strict=True)):
        if not typ.covariant(value):
            raise TypeError(f"argument {i} {value!r:.80} is not a valid Candid {typ.name}")
    last = args[-1] if args else None
    big_blob = isinstance(last, (bytes, bytearray)) and len(last) >= _BLOB_FAST_PATH_BYTES
    if big_blob and _is_blob(arg_types[-1]):
        return _encode_with_trailing_blob(arg_types, args)
    return _encode(arg_types, args)


def _encode(arg_types: Sequence[Any], args: Sequence[Any]) -> bytes:
    return bytes(encode([{"type": t, "value": v} for t, v in zip(arg_types, args, strict=True)]))


def _is_blob(typ: Any) -> bool:
    return bool(getattr(typ, "name", None) == "vec (nat8)")


def _encode_with_trailing_blob(arg_types: Sequence[Any], args: Sequence[Any]) -> bytes:
    """``encode``'s bytes for arguments ending in a blob, with the blob copied once.

    Candid writes the values in argument order and a blob as its LEB128 length then its bytes, so
    the encoding with an empty last blob ends in that blob's length, a single ``0x00``; replacing
    it by the real length and bytes gives what ``encode`` would have produced.
    """
    blob = args[-1]
    head = _encode(arg_types, [*args[:-1], b""])
    if not head.endswith(b"\x00"):  # cannot happen for Candid; fall back rather than guess
        return _encode(arg_types, args)
    return b"".join((head[:-1], LEB128.encode_u(len(blob)), blob))


def to_plain(value: Any) -> Any:
    """Replace ``Principal`` objects (at any depth) with their text form."""
    if isinstance(value, Principal):
        return value.to_str()
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def decode_reply(data: bytes, ret_types: Sequence[Any]) -> Any:
    """Decode reply bytes at ``ret_types``: ``None``, a bare value, or a tuple (see module doc)."""
    try:
        decoded = decode(bytes(data), list(ret_types))
    except (ValueError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot decode Candid reply {bytes(data[:32]).hex()}…: {exc}") from exc
    values = [to_plain(item["value"]) for item in decoded] if ret_types else []
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


class DidCaller(Protocol):
    """What a proxy needs of its connection (``Connection`` is one; typed structurally so this module
    does not import the connection, which imports it)."""

    def call(self, canister_id: str, method: str, *args: Any, did: DidService) -> Any: ...


class CanisterProxy:
    """``conn.canister(cid, did).greet("x")``: attribute access becomes a typed call."""

    def __init__(self, connection: DidCaller, canister_id: str, service: DidService) -> None:
        self.connection = connection
        self.canister_id = canister_id
        self.service = service

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self.service.methods:  # fail at attribute access, not at call time
            raise AttributeError(f"{self.canister_id} has no method {name!r} in its .did")

        def call(*args: Any) -> Any:
            return self.connection.call(self.canister_id, name, *args, did=self.service)

        call.__name__ = name
        return call

    def __repr__(self) -> str:
        return f"CanisterProxy({self.canister_id}, methods={sorted(self.service.methods)})"
