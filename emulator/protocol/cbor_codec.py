"""CBOR in and out of the HTTP interface, restricted to what agents actually exchange.

Incoming bodies are decoded strictly: agents only ever send major types 0–5, null, and the
self-describe tag 55799, so anything else (floats, bignums, other tags, trailing bytes) is a
malformed envelope rather than something to interpret generously.

Before cbor2 sees a body, `_prescan` walks its item headers once, iteratively, skipping string
contents: it refuses every tag (the self-describe prefix is stripped first), indefinite lengths,
nesting deeper than `MAX_DECODE_DEPTH`, more than `MAX_DATA_ITEMS` items and any length the rest
of the body cannot hold. cbor2 therefore only ever builds trees no larger than the bytes that
describe them: its shared-reference tags (28/29), which expand a 186-byte body into 2^20 nodes or
a cycle, and declared lengths of 2^64, never reach it.

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

MAX_DATA_ITEMS = 32_768
"""Most data items (map keys and values count one each) a request body may hold.

Agents send a few dozen. Each of the spec's own limits stays reachable on its own (1000 read_state
paths, 127 labels in a path, 20 delegations of 1000 targets: about 20,000 items); only their product,
a read_state of 1000 paths of 127 labels (128,000 items, which no agent sends), is refused here,
because decoding, checking and hashing it would hold the event loop for about 0.2 s.
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


class _Unfreezable(Exception):
    """`_frozen` met something it does not take as it is; `_freeze` then decides, with its message."""


def _frozen(value: Any) -> Any:
    """`_freeze` for the exact types cbor2 builds from a body that passed the pre-scan.

    Same result as `_freeze`, without building the location text of every value on the way (only a
    refusal needs it) and with one type lookup per value instead of a chain of isinstance checks.
    Anything else (an out-of-range integer, a key that is not text, …) raises `_Unfreezable` and is
    left to `_freeze`, which accepts or refuses it as before.
    """
    kind = type(value)
    if kind is dict:
        frozen: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _Unfreezable
            frozen[key] = _frozen(item)
        return cbor2.frozendict(frozen)
    if kind is bytes or kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if not _MIN_NEGATIVE <= value <= U64_MAX:
            raise _Unfreezable
        return value
    if kind is list:
        return tuple([_frozen(item) for item in value])
    raise _Unfreezable


class _ScanError(Exception):
    """A body refused by the pre-scan; the message is the reason after "Could not parse body as …:"."""


def _premature(need: int, have: int) -> _ScanError:
    # cbor2's wording, so a truncated body reads the same whichever check found it.
    return _ScanError(f"premature end of stream (expected to read at least {need} bytes, got {have} instead)")


def _prescan(body: bytes, pos: int) -> int:
    """Check the structure of the one data item at ``pos`` without building it; returns its end.

    Linear in the number of item headers, iterative (an explicit stack of item counts, so no
    recursion), and bounded by `MAX_DATA_ITEMS`: each header is read once and string contents
    are skipped, never copied.
    """
    end = len(body)
    budget = MAX_DATA_ITEMS
    # Items still to read in each enclosing container; ``pending`` is the innermost's.
    enclosing: list[int] = []
    pending = 1
    while True:
        if pos >= end:
            raise _premature(1, 0)
        initial = body[pos]
        pos += 1
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            argument = info
        elif info < 28:
            width = 1 << (info - 24)
            if end - pos < width:
                raise _premature(width, end - pos)
            argument = int.from_bytes(body[pos : pos + width], "big")
            pos += width
        elif initial == 0xFF:
            raise _ScanError("break code encountered where a data item was expected")
        elif info == 31 and 2 <= major <= 5:
            raise _ScanError("indefinite-length items are not allowed")
        else:
            raise _ScanError(f"invalid additional information {info} for major type {major}")
        budget -= 1
        if budget < 0:
            raise _ScanError(f"more than {MAX_DATA_ITEMS} data items")
        if major == 6:
            if argument in (2, 3):
                raise _ScanError("bignum tags are not allowed")
            raise _ScanError(f"CBOR tag {argument} is not allowed")
        if major in (2, 3):
            if argument > end - pos:
                raise _premature(argument, end - pos)
            pos += argument
        elif major in (4, 5) and argument:
            items = argument if major == 4 else 2 * argument
            if items > end - pos:  # every item takes at least one byte
                raise _premature(items if pos < end else 1, end - pos)
            if len(enclosing) >= MAX_DECODE_DEPTH:
                raise _ScanError(f"maximum container nesting depth ({MAX_DECODE_DEPTH}) exceeded")
            enclosing.append(pending - 1)
            pending = items
            continue
        # A complete item: an integer, a string, an empty container or a simple value / float.
        pending -= 1
        while pending == 0:
            if not enclosing:
                return pos
            pending = enclosing.pop()


def decode_body(body: bytes, what: str) -> Mapping[str, Any]:
    """Decode a request body into an immutable map, or raise the replica-style 400.

    The 55799 prefix is stripped before decoding (rather than left to cbor2) so that the result
    does not depend on whether the agent sent the tag; maps always come back as ``frozendict`` and
    arrays as tuples, so parsed envelopes can hold them without defensive copies.
    """
    # The stream starts after the prefix instead of decoding a sliced copy of a body of up to 2 MiB.
    start = len(SELF_DESCRIBE_PREFIX) if body.startswith(SELF_DESCRIBE_PREFIX) else 0
    try:
        item_end = _prescan(body, start)
    except _ScanError as exc:
        raise ProtocolError(400, f"Could not parse body as {what}: {exc}") from None
    if item_end != len(body):
        raise ProtocolError(400, f"Could not parse body as {what}: trailing data at offset {item_end}")
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
        frozen: Mapping[str, Any] = _frozen(value)
    except _Unfreezable:
        try:
            frozen = _freeze(value, "body")
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
    # The replica's own maps, lists, texts and blobs first, by exact type (the general checks
    # below, ABCs included, then only see integers and anything unusual).
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                raise TypeError(f"response map keys must be text, got {key!r}")
            _check_outgoing(item)
        return
    if kind is list or kind is tuple:
        for item in value:
            _check_outgoing(item)
        return
    if kind is bytes or kind is str:
        return
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
