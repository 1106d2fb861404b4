"""Property: whatever bytes arrive as a request body, the envelope decoder answers with its own error.

`decode_body` and `parse_envelope` may only raise `ProtocolError` (the replica's 4xx); any other
exception would be an HTTP 500, and a body that takes long would stall the event loop. Inputs are
arbitrary bytes, CBOR encodings of arbitrary values (which must decode to exactly those values: the
pre-scan may not refuse what agents send), real signed envelopes, and all of these mutated: bytes
flipped, inserted, deleted, truncated, and CBOR headers that claim huge lengths, tags (shared
references included), indefinite lengths or deep nesting spliced in.

The budget comes from the Hypothesis profile (tests/fuzz/conftest.py): fixed in CI, long in
`scripts/fuzz.sh`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cbor2
from hypothesis import given
from hypothesis import strategies as st

from emulator.protocol.cbor_codec import decode_body
from emulator.protocol.envelope import REQUEST_TYPES, RequestType, parse_envelope
from emulator.protocol.errors import ProtocolError
from tests.protocol.helpers import (
    V2_IDENTITY,
    call_content,
    query_content,
    read_state_content,
    signed_envelope,
)

PREFIX = b"\xd9\xd9\xf7"

# Header fragments an attacker would splice in: every kind of thing the pre-scan has to refuse.
HOSTILE_FRAGMENTS = [
    b"\xd8\x1c",  # tag 28: shareable
    b"\xd8\x1d\x00",  # tag 29: shared reference 0
    b"\xd9\x01\x00",  # tag 256: stringref namespace
    b"\xd8\x19\x00",  # tag 25: stringref
    b"\xc2\x41\x01",  # bignum
    PREFIX,  # a nested self-describe tag
    b"\x9f",  # indefinite array
    b"\xbf",  # indefinite map
    b"\x5f\x41a\xff",  # indefinite byte string
    b"\xff",  # break
    b"\x9b" + b"\xff" * 8,  # array of 2^64-1 items
    b"\xbb" + b"\xff" * 8,  # map of 2^64-1 entries
    b"\x5b\x7f" + b"\xff" * 7,  # byte string of 2^63-1 bytes
    b"\x81" * 40,  # 40 nested arrays
    b"\x1c",  # reserved additional information
    b"\xfb" + bytes(8),  # a float
    b"\xf8\x20",  # a simple value
]

cbor_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=20)
)
cbor_values = st.recursive(
    cbor_leaves,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=40,
)
request_types: st.SearchStrategy[RequestType] = st.sampled_from(REQUEST_TYPES)


def _envelope(kind: RequestType, anonymous: bool, paths: list[list[bytes]]) -> bytes:
    user = V2_IDENTITY.principal
    if kind == "read_state":
        content = read_state_content(user, paths)
    elif kind == "query":
        content = query_content(user)
    else:
        content = call_content(user)
    if anonymous:
        content = {**content, "sender": b"\x04"}
    return signed_envelope(content, None if anonymous else V2_IDENTITY)


envelopes = st.builds(
    _envelope,
    request_types,
    st.booleans(),
    st.lists(st.lists(st.binary(max_size=8), max_size=4), max_size=4),
)


@st.composite
def mutated(draw: st.DrawFn, seeds: st.SearchStrategy[bytes]) -> bytes:
    """A seed body with one to four edits."""
    body = bytearray(draw(seeds))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(body)))
        edit = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        if edit == "flip" and at < len(body):
            body[at] = draw(st.integers(min_value=0, max_value=255))
        elif edit == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del body[at : at + draw(st.integers(min_value=1, max_value=8))]
        elif edit == "truncate":
            del body[at:]
        else:
            body[at:at] = draw(st.sampled_from(HOSTILE_FRAGMENTS))
    return bytes(body)


def _only_protocol_errors(body: bytes, kind: RequestType) -> None:
    what = f"{kind} message"
    try:
        decode_body(body, what)
    except ProtocolError as exc:
        assert exc.http_status == 400 and exc.message.startswith("Could not parse body as ")
    try:
        parse_envelope(body, kind)
    except ProtocolError as exc:
        assert 400 <= exc.http_status < 500


@given(st.binary(max_size=512), request_types)
def test_arbitrary_bytes(body: bytes, kind: RequestType) -> None:
    _only_protocol_errors(body, kind)
    _only_protocol_errors(PREFIX + body, kind)


@given(cbor_values, st.booleans())
def test_any_encoded_map_decodes_to_itself(value: Any, tag: bool) -> None:
    """What cbor2 encodes without tags passes the pre-scan and comes back equal (maps only at the top)."""
    body = cbor2.dumps(cbor2.CBORTag(55799, value) if tag else value)
    if isinstance(value, Mapping):
        assert decode_body(body, "call message") == _frozen(value)
    else:
        _only_protocol_errors(body, "call")


@given(mutated(st.builds(cbor2.dumps, cbor_values)), request_types)
def test_mutated_cbor(body: bytes, kind: RequestType) -> None:
    _only_protocol_errors(body, kind)


@given(envelopes)
def test_real_envelopes_parse(body: bytes) -> None:
    kind = decode_body(body, "envelope")["content"]["request_type"]
    assert parse_envelope(body, kind).request_type == kind


@given(mutated(envelopes), request_types)
def test_mutated_envelopes(body: bytes, kind: RequestType) -> None:
    _only_protocol_errors(body, kind)


def _frozen(value: Any) -> Any:
    """The decoder's view of a value: arrays as tuples (maps compare equal to dicts already)."""
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return {key: _frozen(item) for key, item in value.items()}
    return value
