"""Request ids and envelopes built through our code reproduce agent-js' bytes (vectors V1, V3, V4)."""

from __future__ import annotations

import cbor2
import pytest
from icp_identity import Identity
from nacl.signing import VerifyKey

from clients.ic import Ed25519Identity, anonymous_identity
from clients.ic.certificates import decode_cbor
from clients.ic.envelope import (
    REQUEST_DOMAIN_SEPARATOR,
    build_envelope,
    call_content,
    query_content,
    read_state_content,
    request_id,
    sign_envelope,
)
from tests.clients.ic_testkit import CANISTER, VECTORS

SEED = bytes.fromhex(VECTORS["V2_identity"]["seed_hex"])
V3 = VECTORS["V3_signed_query"]
EXPIRY = 1700000100000000000


def _v3_content(sender: bytes) -> dict[str, object]:
    return query_content(sender, CANISTER, "greet", bytes.fromhex(V3["arg_hex"]), ingress_expiry=EXPIRY)


def test_v1_spec_request_id() -> None:
    content = {
        "request_type": "call",
        "sender": b"\x04",
        "ingress_expiry": 1685570400000000000,
        "canister_id": bytes.fromhex("00000000000004d2"),
        "method_name": "hello",
        "arg": bytes.fromhex("4449444c00fd2a"),
    }
    assert request_id(content).hex() == VECTORS["V1_spec_call_request_id"]


@pytest.mark.parametrize(
    "make", [Ed25519Identity, lambda seed: Identity(privkey=seed.hex())], ids=["nacl", "icp-py-core"]
)
def test_v3_signed_query_envelope_is_byte_identical(make: object) -> None:
    identity = make(SEED)  # type: ignore[operator]
    rid, body = sign_envelope(_v3_content(identity.sender().bytes), identity)
    assert rid.hex() == V3["request_id_hex"]
    assert body.hex() == V3["envelope_cbor_hex"]


def test_v3_anonymous_envelope_has_only_content() -> None:
    anon = anonymous_identity()
    rid, body = sign_envelope(_v3_content(anon.sender().bytes), anon)
    assert rid.hex() == VECTORS["V3_anonymous_query"]["request_id_hex"]
    assert body.hex() == VECTORS["V3_anonymous_query"]["envelope_cbor_hex"]


def test_v4_call_and_read_state_ids() -> None:
    identity = Ed25519Identity(SEED)
    sender = identity.sender().bytes
    v4 = VECTORS["V4_call_with_nonce"]
    call = call_content(
        sender,
        CANISTER,
        "inc",
        bytes.fromhex(v4["arg_hex"]),
        ingress_expiry=EXPIRY,
        nonce=bytes.fromhex(v4["nonce_hex"]),
    )
    assert request_id(call).hex() == v4["request_id_hex"]
    paths: list[list[bytes | str]] = [["request_status", bytes.fromhex(v4["request_id_hex"])], ["time"]]
    assert (
        request_id(read_state_content(sender, paths, ingress_expiry=EXPIRY)).hex()
        == (VECTORS["V4_read_state"]["request_id_hex"])
    )
    assert (
        request_id(read_state_content(sender, [[b"subnet"]], ingress_expiry=EXPIRY)).hex()
        == (VECTORS["V4_read_state_subnet"]["request_id_hex"])
    )


def test_calls_get_fresh_nonces() -> None:
    a = call_content(b"\x04", CANISTER, "inc", b"DIDL\x00\x00", ingress_expiry=EXPIRY)
    b = call_content(b"\x04", CANISTER, "inc", b"DIDL\x00\x00", ingress_expiry=EXPIRY)
    assert len(a["nonce"]) == 16
    assert request_id(a) != request_id(b)


def _verifies(body: bytes) -> bool:
    env = decode_cbor(body)
    key = VerifyKey(env["sender_pubkey"][-32:])
    try:
        key.verify(REQUEST_DOMAIN_SEPARATOR + request_id(env["content"]), env["sender_sig"])
    except Exception:
        return False
    return True


def test_tamper_switches() -> None:
    identity = Ed25519Identity(SEED)
    content = _v3_content(identity.sender().bytes)
    assert _verifies(build_envelope(content, identity))
    assert not _verifies(build_envelope(content, identity, tamper_signature=True))

    other = Ed25519Identity(b"\x07" * 32)
    swapped = decode_cbor(build_envelope(content, identity, sender_pubkey=other.der_pubkey))
    assert swapped["sender_pubkey"] == other.der_pubkey

    bare = decode_cbor(build_envelope(content, identity, omit=["sender_sig"]))
    assert set(bare) == {"content", "sender_pubkey"}

    extra = decode_cbor(build_envelope(content, identity, extra={"sender_delegation": []}))
    assert extra["sender_delegation"] == []

    untagged = build_envelope(content, identity, self_describe=False)
    assert not untagged.startswith(b"\xd9\xd9\xf7")
    assert cbor2.loads(untagged)["content"]["method_name"] == "greet"


def test_anonymous_cannot_be_tampered() -> None:
    anon = anonymous_identity()
    with pytest.raises(ValueError, match="anonymous"):
        build_envelope(_v3_content(b"\x04"), anon, tamper_signature=True)


def test_sign_envelope_hashes_once_and_signs_what_build_envelope_signs() -> None:
    # sign_envelope reuses its request id for the signature; the bytes must not change for that.
    identity = Ed25519Identity(SEED)
    chunk = b"\x5a" * (1 << 20)
    content = call_content(identity.sender().bytes, CANISTER, "put_chunk", chunk, nonce=b"n" * 16)
    rid, body = sign_envelope(content, identity)
    assert rid == request_id(content)
    assert body == build_envelope(content, identity)
    envelope = decode_cbor(body)
    VerifyKey(identity.der_pubkey[-32:]).verify(REQUEST_DOMAIN_SEPARATOR + rid, envelope["sender_sig"])
