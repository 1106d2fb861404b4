"""Envelope parsing: every shape failure maps to an exact HTTP status and text."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest

from emulator.principal import Principal
from emulator.protocol.envelope import (
    MAX_DELEGATION_TARGETS,
    MAX_DELEGATIONS,
    MAX_NONCE_BYTES,
    MAX_PATH_LABELS,
    MAX_READ_STATE_PATHS,
    CallEnvelope,
    ReadStateEnvelope,
    RequestType,
    parse_envelope,
)
from emulator.protocol.errors import ProtocolError
from emulator.protocol.request_id import request_id
from tests.protocol.helpers import (
    DROP,
    NOW,
    RRKAH,
    V2_IDENTITY,
    Ed25519Identity,
    Link,
    call_content,
    query_content,
    read_state_content,
    signed_envelope,
)

ANON = Principal.anonymous()
USER = V2_IDENTITY.principal
USER_TEXT = USER.to_text()


def tagged(envelope: Any) -> bytes:
    encoded: bytes = cbor2.dumps(cbor2.CBORTag(55799, envelope))
    return encoded


def expect(body: bytes, kind: RequestType, status: int, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_envelope(body, kind)
    assert (info.value.http_status, info.value.message) == (status, message)


CALL = "Could not parse body as call message: "
QUERY = "Could not parse body as query message: "
READ = "Could not parse body as read_state message: "

SHAPE_CASES: list[tuple[str, bytes, RequestType, str]] = [
    (
        "empty body",
        b"",
        "call",
        CALL + "premature end of stream (expected to read at least 1 bytes, got 0 instead)",
    ),
    ("break code", b"\xff", "call", CALL + "break code encountered where a data item was expected"),
    (
        "truncated map",
        b"\xd9\xd9\xf7\xa1",
        "query",
        QUERY + "premature end of stream (expected to read at least 1 bytes, got 0 instead)",
    ),
    ("array body", tagged([1, 2]), "call", CALL + "expected a map, found an array"),
    ("text body", cbor2.dumps("hello"), "read_state", READ + "expected a map, found a text string"),
    ("trailing bytes", tagged({"content": {}}) + b"\x00", "call", CALL + "trailing data at offset 13"),
    (
        "duplicate key",
        b"\xa2acontent\xa0acontent\xa0".replace(b"acontent", b"\x67content"),
        "call",
        CALL + "error decoding map: Duplicate map key: 'content'",
    ),
    ("integer map key", b"\xa1\x01\x02", "call", CALL + "map key 1 at body is not a text string"),
    ("float", tagged({"content": 1.5}), "call", CALL + "unsupported CBOR value (float) at body.content"),
    ("bignum", b"\xa1\x67content\xc2\x41\x01", "call", CALL + "bignum tags are not allowed"),
    ("unknown tag", b"\xa1\x67content\xd9\xff\xff\x00", "call", CALL + "CBOR tag 65535 is not allowed"),
    ("missing content", tagged({"sender_sig": b"x"}), "call", CALL + "missing field `content`"),
    (
        "content not a map",
        tagged({"content": b"x"}),
        "call",
        CALL + "invalid type for `content`: expected a map, found a byte string",
    ),
    (
        "content null",
        tagged({"content": None}),
        "call",
        CALL + "invalid type for `content`: expected a map, found null",
    ),
    (
        "query at call endpoint",
        tagged({"content": query_content(ANON)}),
        "call",
        CALL + "unknown variant `query`, expected `call`",
    ),
    (
        "call at query endpoint",
        tagged({"content": call_content(ANON)}),
        "query",
        QUERY + "unknown variant `call`, expected `query`",
    ),
    (
        "call at read_state endpoint",
        tagged({"content": call_content(ANON)}),
        "read_state",
        READ + "unknown variant `call`, expected `read_state`",
    ),
    (
        "request_type missing",
        tagged({"content": call_content(ANON, request_type=DROP)}),
        "call",
        CALL + "missing field `request_type`",
    ),
    (
        "sender missing",
        tagged({"content": call_content(ANON, sender=DROP)}),
        "call",
        CALL + "missing field `sender`",
    ),
    (
        "ingress_expiry missing",
        tagged({"content": call_content(ANON, ingress_expiry=DROP)}),
        "call",
        CALL + "missing field `ingress_expiry`",
    ),
    (
        "canister_id missing",
        tagged({"content": call_content(ANON, canister_id=DROP)}),
        "call",
        CALL + "missing field `canister_id`",
    ),
    (
        "method_name missing",
        tagged({"content": query_content(ANON, method_name=DROP)}),
        "query",
        QUERY + "missing field `method_name`",
    ),
    ("arg missing", tagged({"content": call_content(ANON, arg=DROP)}), "call", CALL + "missing field `arg`"),
    (
        "paths missing",
        tagged({"content": read_state_content(ANON, [], paths=DROP)}),
        "read_state",
        READ + "missing field `paths`",
    ),
    (
        "arg as text",
        tagged({"content": call_content(ANON, arg="DIDL")}),
        "call",
        CALL + "invalid type for `arg`: expected a byte string, found a text string",
    ),
    (
        "method_name as bytes",
        tagged({"content": call_content(ANON, method_name=b"inc")}),
        "call",
        CALL + "invalid type for `method_name`: expected a text string, found a byte string",
    ),
    (
        "negative expiry",
        tagged({"content": call_content(ANON, ingress_expiry=-1)}),
        "call",
        CALL + "invalid type for `ingress_expiry`: expected an unsigned integer, found a negative integer",
    ),
    (
        "boolean expiry",
        tagged({"content": call_content(ANON, ingress_expiry=True)}),
        "call",
        CALL + "invalid type for `ingress_expiry`: expected an unsigned integer, found a boolean",
    ),
    (
        "sender too long",
        tagged({"content": call_content(ANON, sender=b"\x01" * 30)}),
        "call",
        CALL + "invalid principal in field `sender`: principal longer than 29 bytes",
    ),
    (
        "canister_id too long",
        tagged({"content": query_content(ANON, canister_id=b"\x01" * 30)}),
        "query",
        QUERY + "invalid principal in field `canister_id`: principal longer than 29 bytes",
    ),
    (
        "paths not an array",
        tagged({"content": read_state_content(ANON, [], paths=b"time")}),
        "read_state",
        READ + "invalid type for `paths`: expected an array, found a byte string",
    ),
    (
        "path not an array",
        tagged({"content": read_state_content(ANON, [], paths=[b"time"])}),
        "read_state",
        READ + "invalid type for `paths[0]`: expected an array, found a byte string",
    ),
    (
        "label not bytes",
        tagged({"content": read_state_content(ANON, [], paths=[[1]])}),
        "read_state",
        READ + "invalid type for a label in `paths[0]`: expected a byte string, found an unsigned integer",
    ),
    (
        "nonce as text",
        tagged({"content": call_content(ANON, nonce="n")}),
        "call",
        CALL + "invalid type for `nonce`: expected a byte string, found a text string",
    ),
    (
        "unhashable content field",
        tagged({"content": call_content(ANON, flag=True)}),
        "call",
        CALL + "content cannot be hashed: value True has no representation-independent hash",
    ),
    (
        "sender_pubkey as text",
        tagged({"content": call_content(USER), "sender_pubkey": "k", "sender_sig": b"s"}),
        "call",
        CALL + "invalid type for `sender_pubkey`: expected a byte string, found a text string",
    ),
    (
        "pubkey without sig",
        tagged({"content": call_content(USER), "sender_pubkey": V2_IDENTITY.der}),
        "call",
        CALL + "sender_pubkey and sender_sig must be present together",
    ),
    (
        "sig without pubkey",
        tagged({"content": call_content(USER), "sender_sig": b"s" * 64}),
        "call",
        CALL + "sender_pubkey and sender_sig must be present together",
    ),
    (
        "delegation not a map",
        tagged(
            {
                "content": call_content(USER),
                "sender_pubkey": b"k",
                "sender_sig": b"s",
                "sender_delegation": [b"x"],
            }
        ),
        "call",
        CALL + "invalid type for `sender_delegation[0]`: expected a map, found a byte string",
    ),
    (
        "delegation missing expiration",
        tagged(
            {
                "content": call_content(USER),
                "sender_pubkey": b"k",
                "sender_sig": b"s",
                "sender_delegation": [{"delegation": {"pubkey": b"p"}, "signature": b"s"}],
            }
        ),
        "call",
        CALL + "missing field `expiration` in sender_delegation[0].delegation.",
    ),
    (
        "delegation target not bytes",
        tagged(
            {
                "content": call_content(USER),
                "sender_pubkey": b"k",
                "sender_sig": b"s",
                "sender_delegation": [
                    {"delegation": {"pubkey": b"p", "expiration": 1, "targets": ["x"]}, "signature": b"s"}
                ],
            }
        ),
        "call",
        CALL + "invalid type for a target in `sender_delegation[0].delegation.targets`: "
        "expected a byte string, found a text string",
    ),
    (
        "delegation only",
        tagged(
            {
                "content": call_content(USER),
                "sender_delegation": [{"delegation": {"pubkey": b"p", "expiration": 1}, "signature": b"s"}],
            }
        ),
        "call",
        CALL + "sender_delegation requires sender_pubkey and sender_sig",
    ),
]


@pytest.mark.parametrize(("name", "body", "kind", "message"), SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
def test_shape_errors(name: str, body: bytes, kind: RequestType, message: str) -> None:
    expect(body, kind, 400, message)


def test_empty_delegation_list_on_anonymous_request_is_fine() -> None:
    """The replica deserializes `sender_delegation: []` to an empty chain, not to a signature."""
    env = parse_envelope(tagged({"content": call_content(ANON), "sender_delegation": []}), "call")
    assert env.is_anonymous and env.delegations == ()


def test_anonymous_with_signature_is_refused() -> None:
    body = tagged({"content": query_content(ANON), "sender_pubkey": V2_IDENTITY.der, "sender_sig": b"s" * 64})
    expect(body, "query", 400, "Signature is not allowed for the anonymous user.")


def test_anonymous_with_delegation_is_refused() -> None:
    other = Ed25519Identity(b"\x07" * 32)
    content = query_content(ANON)
    body = signed_envelope(content, V2_IDENTITY, [Link(other, NOW * 2)])
    decoded = cbor2.loads(body[3:])
    decoded["content"] = content
    expect(tagged(decoded), "query", 400, "Signature is not allowed for the anonymous user.")


def test_signed_sender_without_signature_is_refused() -> None:
    expect(tagged({"content": call_content(USER)}), "call", 400, f"Missing signature from user: {USER_TEXT}")


def test_null_signature_fields_count_as_absent() -> None:
    """icp-py-core sends anonymous envelopes with explicit nulls, untagged."""
    content = query_content(ANON)
    body = cbor2.dumps(
        {"content": content, "sender_pubkey": None, "sender_sig": None, "sender_delegation": None}
    )
    env = parse_envelope(body, "query")
    assert env.is_anonymous and env.sender_pubkey is None and env.sender_sig is None and env.delegations == ()
    assert env.request_id == request_id(content)


def test_untagged_and_tagged_bodies_are_equivalent() -> None:
    content = call_content(USER, nonce=b"\x01" * 16)
    tagged_env = parse_envelope(signed_envelope(content, V2_IDENTITY, tag=True), "call")
    plain_env = parse_envelope(signed_envelope(content, V2_IDENTITY, tag=False), "call")
    assert tagged_env == plain_env


def test_unknown_content_fields_are_hashed() -> None:
    """Fields a future agent adds (like sender_info) must be part of the request id."""
    content = query_content(
        USER, sender_info={"info": b"i", "signer": b"s", "sig": b"g"}, future=[1, b"x", "y"]
    )
    env = parse_envelope(signed_envelope(content, V2_IDENTITY), "query")
    assert env.request_id == request_id(content)
    assert env.request_id != request_id(query_content(USER))
    assert env.content["future"] == (1, b"x", "y")


def test_null_nonce_is_absent() -> None:
    env = parse_envelope(tagged({"content": call_content(ANON, nonce=None)}), "call")
    assert env.nonce is None
    assert env.request_id == request_id(call_content(ANON))


def test_unknown_envelope_keys_are_ignored() -> None:
    body = signed_envelope(query_content(USER), V2_IDENTITY, extra={"some_future_key": 1})
    assert parse_envelope(body, "query").sender == USER


def test_text_labels_are_read_as_utf8_bytes() -> None:
    """serde_bytes (the replica) accepts text labels; their hash equals that of the UTF-8 bytes."""
    text_paths = read_state_content(ANON, [], paths=[["time"], ["subnet", b"\x01"]])
    byte_paths = read_state_content(ANON, [[b"time"], [b"subnet", b"\x01"]])
    env = parse_envelope(tagged({"content": text_paths}), "read_state")
    assert env.paths == ((b"time",), (b"subnet", b"\x01"))
    assert env.request_id == request_id(byte_paths)


# --- limits ----------------------------------------------------------------------------------------


def test_nonce_limit() -> None:
    ok = parse_envelope(tagged({"content": call_content(ANON, nonce=b"n" * MAX_NONCE_BYTES)}), "call")
    assert ok.nonce == b"n" * 32
    expect(
        tagged({"content": call_content(ANON, nonce=b"n" * 33)}),
        "call",
        400,
        "Nonce in request is too big: got 33 bytes, but at most 32 are allowed.",
    )


def test_path_count_limit() -> None:
    ok = parse_envelope(
        tagged({"content": read_state_content(ANON, [[b"time"]] * MAX_READ_STATE_PATHS)}), "read_state"
    )
    assert ok.paths is not None and len(ok.paths) == 1000
    expect(
        tagged({"content": read_state_content(ANON, [[b"time"]] * 1001)}),
        "read_state",
        400,
        "Too many paths in read state request: got 1001 paths, but at most 1000 are allowed.",
    )


def test_path_depth_limit() -> None:
    ok = parse_envelope(
        tagged({"content": read_state_content(ANON, [[b"x"] * MAX_PATH_LABELS])}), "read_state"
    )
    assert ok.paths is not None and len(ok.paths[0]) == 127
    expect(
        tagged({"content": read_state_content(ANON, [[b"time"], [b"x"] * 128])}),
        "read_state",
        400,
        "At least one path in read state request is too deep: got 128 labels, but at most 127 are allowed.",
    )


def _chain(length: int) -> list[Link]:
    return [Link(Ed25519Identity(bytes([i + 1]) * 32), NOW * 2) for i in range(length)]


def test_delegation_count_limit() -> None:
    content = query_content(USER)
    ok = parse_envelope(signed_envelope(content, V2_IDENTITY, _chain(MAX_DELEGATIONS)), "query")
    assert len(ok.delegations) == 20
    expect(
        signed_envelope(content, V2_IDENTITY, _chain(21)),
        "query",
        400,
        "Invalid delegation: Chain of delegations is too long: "
        "got 21 delegations, but at most 20 are allowed.",
    )


def test_delegation_target_limit() -> None:
    targets = [Principal(i.to_bytes(8, "big") + b"\x01\x01") for i in range(MAX_DELEGATION_TARGETS + 1)]
    session = Ed25519Identity(b"\x09" * 32)
    content = query_content(USER)
    ok = parse_envelope(
        signed_envelope(content, V2_IDENTITY, [Link(session, NOW * 2, targets[:1000])]), "query"
    )
    assert ok.delegations[0].targets is not None and len(ok.delegations[0].targets) == 1000
    expect(
        signed_envelope(content, V2_IDENTITY, [Link(session, NOW * 2, targets)]),
        "query",
        400,
        "Invalid delegation: Delegation target error: "
        "expected at most 1000 targets per delegation, but got 1001",
    )


def test_envelope_invariants_hold_for_direct_construction() -> None:
    """Each request kind refuses inconsistent values even when built without parse_envelope."""
    content = call_content(ANON)
    common: dict[str, Any] = {
        "content": content,
        "sender": ANON,
        "ingress_expiry": content["ingress_expiry"],
        "nonce": None,
        "sender_pubkey": None,
        "sender_sig": None,
        "delegations": (),
    }
    fields: dict[str, Any] = {**common, "canister_id": RRKAH, "method_name": "inc", "arg": b"DIDL\x00\x00"}
    built = CallEnvelope(**fields)
    assert built.is_anonymous
    assert built.request_type == "call"
    assert built.request_id == request_id(fields["content"])
    with pytest.raises(ValueError, match="needs canister_id"):
        CallEnvelope(**{**fields, "arg": None})
    with pytest.raises(TypeError, match="paths"):  # a call has no paths, a read_state only paths
        CallEnvelope(**{**fields, "paths": ()})
    with pytest.raises(TypeError, match="canister_id"):
        ReadStateEnvelope(**{**fields, "paths": ()})
    with pytest.raises(ValueError, match="read_state envelope needs paths"):
        ReadStateEnvelope(**common, paths=None)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="Missing signature"):
        CallEnvelope(**{**fields, "sender": USER})
