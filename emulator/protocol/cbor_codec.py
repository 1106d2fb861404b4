"""CBOR in and out of the HTTP interface, restricted to what agents actually exchange.

Incoming bodies are decoded strictly: agents only ever send major types 0–5, null, and the
self-describe tag 55799, so anything else (floats, bignums, other tags, trailing bytes) is a
malformed envelope rather than something to interpret generously.

Outgoing bodies are limited the other way round: agent-js' decoder understands major types 0–5,
tag 55799 and simple values only, so an integer ≥ 2⁶⁴ (which cbor2 would encode as a bignum tag)
or a float must never leave the emulator.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import cbor2

from emulator.protocol.errors import ProtocolError

SELF_DESCRIBE_PREFIX = b"\xd9\xd9\xf7"
"""Tag 55799 (RFC 8949 §3.4.6) as agents and the replica prefix every body."""

SELF_DESCRIBE_TAG = 55799

MAX_DECODE_DEPTH = 32
"""Nesting bound for request bodies.

The deepest spec-defined request structure (envelope → sender_delegation → item → delegation →
targets) is five levels; 32 leaves room for future content fields while keeping hostile input from
recursing far.
"""

U64_MAX = 2**64 - 1
_MIN_NEGATIVE = -(2**64)


class _ForbiddenTagError(Exception):
    pass


def _reject_tag(decoder: object, *args: object) -> NoReturn:
    """Refuse bignums: a request integer must be a plain CBOR integer like the replica expects."""
    raise _ForbiddenTagError("bignum tags are not allowed")


def _reject_unknown_tag(tag: cbor2.CBORTag, immutable: bool) -> NoReturn:
    raise _ForbiddenTagError(f"CBOR tag {tag.tag} is not allowed")


# cbor2 turns these tags into Python objects on its own; the value checker below rejects the
# resulting datetimes, Decimals, UUIDs, sets, … — only bignums (2, 3) would pass as plain ints.
_SEMANTIC_OVERRIDES = {2: _reject_tag, 3: _reject_tag}


def _freeze(value: Any, where: str) -> Any:
    """Check one decoded value and return it with maps as ``frozendict`` and arrays as tuples."""
    if isinstance(value, bool) or value is None or isinstance(value, (bytes, str)):
        return value
    if isinstance(value, int):
        if not _MIN_NEGATIVE <= value <= U64_MAX:
            raise ValueError(f"integer out of range at {where}")
        return value
    if isinstance(value, Mapping):
        frozen: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"map key {key!r} at {where} is not a text string")
            frozen[key] = _freeze(item, f"{where}.{key}")
        return cbor2.frozendict(frozen)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(item, f"{where}[{index}]") for index, item in enumerate(value))
    raise ValueError(f"unsupported CBOR value ({type(value).__name__}) at {where}")


def decode_body(body: bytes, what: str) -> Mapping[str, Any]:
    """Decode a request body into an immutable map, or raise the replica-style 400.

    The 55799 prefix is stripped before decoding (rather than left to cbor2) so that the result
    does not depend on whether the agent sent the tag; maps always come back as ``frozendict`` and
    arrays as tuples, so parsed envelopes can hold them without defensive copies.
    """
    # The stream starts after the prefix instead of decoding a sliced copy of a body of up to 2 MiB.
    start = len(SELF_DESCRIBE_PREFIX) if body.startswith(SELF_DESCRIBE_PREFIX) else 0
    stream = io.BytesIO(body)
    stream.seek(start)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            tag_hook=_reject_unknown_tag,
            semantic_decoders=_SEMANTIC_OVERRIDES,
            max_depth=MAX_DECODE_DEPTH,
            allow_duplicate_keys=False,
        )
        value = decoder.decode()
    except _ForbiddenTagError as exc:
        raise ProtocolError(400, f"Could not parse body as {what}: {exc}") from exc
    except (cbor2.CBORDecodeError, ValueError, RecursionError) as exc:
        reason = exc.__cause__ if isinstance(exc.__cause__, _ForbiddenTagError) else exc
        raise ProtocolError(400, f"Could not parse body as {what}: {reason}") from exc
    if stream.tell() != len(body):
        offset = stream.tell()  # a position in the body as sent
        raise ProtocolError(400, f"Could not parse body as {what}: trailing data at offset {offset}")
    if not isinstance(value, Mapping):
        raise ProtocolError(400, f"Could not parse body as {what}: expected a map, found {_describe(value)}")
    try:
        frozen: Mapping[str, Any] = _freeze(value, "body")
    except ValueError as exc:
        raise ProtocolError(400, f"Could not parse body as {what}: {exc}") from exc
    return frozen


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, bytes):
        return "a byte string"
    if isinstance(value, str):
        return "a text string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "a map"
    return type(value).__name__


def _check_outgoing(value: Any) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, (bytes, str)):
        return
    if isinstance(value, int):
        if not _MIN_NEGATIVE <= value <= U64_MAX:
            raise ValueError(f"integer {value} does not fit in CBOR major type 0/1 (agents reject bignums)")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"response map keys must be text, got {key!r}")
            _check_outgoing(item)
        return
    if isinstance(value, Sequence):
        for item in value:
            _check_outgoing(item)
        return
    raise TypeError(f"cannot send {type(value).__name__} to agents (only ints, bytes, text, arrays, maps)")


def encode_response(obj: Any) -> bytes:
    """CBOR-encode a response body with the self-describe tag, refusing anything agents can't read."""
    _check_outgoing(obj)
    encoded: bytes = cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE_TAG, obj))
    return encoded


def encode_tagged(obj: Any) -> bytes:
    """Self-describing CBOR for values nested inside certified leaves (controllers, ranges)."""
    return encode_response(obj)
