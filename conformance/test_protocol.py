"""The protocol around the contract (requirement 17.1: every write verifies the caller): replies are
certified by the target's root key and the client checks them; requests with a forged signature, a
sender that is not the signer, or an expiry outside the accepted window are refused with HTTP 4xx and
have no effect. Each refusal test first sends the same request correctly signed, so a refusal cannot
come from anything but the one field that was broken."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest
from py_arkworks_bls12381 import G2Point, Scalar

from clients.artifact.errors import IntegrityError
from clients.artifact.types import MemoryType
from clients.ic import Connection, VerificationError, generate_ed25519, principal_bytes
from clients.ic.candid import encode_args
from clients.ic.certificates import BLS_DER_PREFIX
from clients.ic.envelope import build_envelope, call_content, query_content, read_state_content

from .calls import SuiteClient
from .kit import metadata, metadata_key, new_id
from .target import Target

pytestmark = [pytest.mark.task("1"), pytest.mark.req("17.1"), pytest.mark.portable]

KINDS = ["call", "query", "read_state"]
NS = 1_000_000_000


def _other_root_key() -> bytes:
    """A valid BLS root key that is not the target's: certificates must not verify under it."""
    scalar = int.from_bytes(hashlib.sha256(b"not the target's root key").digest(), "big") % (2**250)
    return BLS_DER_PREFIX + (G2Point() * Scalar(scalar)).to_compressed_bytes()


def _content(target: Target, kind: str, sender: Any, memory_id: str, **changes: Any) -> dict[str, Any]:
    if kind == "read_state":
        path = [b"canister", principal_bytes(target.canister_id), b"module_hash"]
        return read_state_content(sender, [path], **changes)
    if kind == "call":
        method = target.contract["upsert_metadata"]
        args = (memory_id, MemoryType.NOTE.to_candid(), metadata().to_candid(), metadata_key(memory_id))
        return call_content(
            sender, target.canister_id, "upsert_metadata", encode_args(method.arg_types, args), **changes
        )
    method = target.contract["get_memory_presence_icp"]
    return query_content(
        sender,
        target.canister_id,
        "get_memory_presence_icp",
        encode_args(method.arg_types, (memory_id,)),
        **changes,
    )


def _post(target: Target, kind: str, body: bytes) -> httpx.Response:
    path = {
        "call": f"/api/v2/canister/{target.canister_id}/call",
        "query": f"/api/v2/canister/{target.canister_id}/query",
        "read_state": f"/api/v2/canister/{target.canister_id}/read_state",
    }[kind]
    return target.connection.post(path, body)


def _accepted(response: httpx.Response) -> bool:
    return response.status_code in (200, 202)


def _assert_refused(response: httpx.Response, what: str) -> None:
    __tracebackhide__ = True
    assert 400 <= response.status_code < 500, (
        f"{what}: expected HTTP 4xx, got {response.status_code} {response.text[:200]!r}"
    )


def _sender(identity: Any) -> bytes:
    return bytes(identity.sender().bytes)


@pytest.mark.parametrize("kind", KINDS)
def test_correctly_signed_requests_are_accepted(target: Target, kind: str) -> None:
    """Control: the hand-built request the refusal tests break is accepted when intact."""
    identity = generate_ed25519()
    response = _post(
        target, kind, build_envelope(_content(target, kind, _sender(identity), new_id()), identity)
    )
    assert _accepted(response), f"{response.status_code} {response.text[:200]!r}"


@pytest.mark.req("17.3")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.method("get_memory_presence_icp")
def test_forged_signature_is_refused(target: Target, alice: SuiteClient, kind: str) -> None:
    """A request whose signature does not verify is refused with 4xx, and a forged write has no
    effect."""
    identity = alice.connection.identity
    mid = new_id()
    body = build_envelope(_content(target, kind, _sender(identity), mid), identity, tamper_signature=True)
    _assert_refused(_post(target, kind, body), f"forged {kind}")
    if kind == "call":
        time.sleep(0.5)  # a wrongly accepted call would have executed by now
        assert not alice.get_memory_presence_icp(mid).metadata_present, "the forged write took effect"


@pytest.mark.parametrize("kind", KINDS)
def test_sender_that_is_not_the_signer_is_refused(target: Target, kind: str) -> None:
    """A request claiming another principal as sender, signed with the caller's own key, is 4xx."""
    signer, victim = generate_ed25519(), generate_ed25519()
    body = build_envelope(_content(target, kind, _sender(victim), new_id()), signer)
    _assert_refused(_post(target, kind, body), f"{kind} with a sender other than the signer")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("when", ["expired 10 minutes ago", "expiring in 1 hour"])
def test_request_outside_the_expiry_window_is_refused(target: Target, kind: str, when: str) -> None:
    """A request whose `ingress_expiry` has passed, or lies further ahead than the IC accepts
    (5 minutes plus drift), is refused with 4xx."""
    identity = generate_ed25519()
    offset = -600 if when.startswith("expired") else 3600
    content = _content(target, kind, _sender(identity), new_id(), ingress_expiry=time.time_ns() + offset * NS)
    _assert_refused(_post(target, kind, build_envelope(content, identity)), f"{kind} {when}")


@pytest.mark.req("18.3")
@pytest.mark.method("register_capsule", "get_api_version")
def test_replies_are_certified_by_the_root_key(target: Target, alice: SuiteClient) -> None:
    """Update replies and query signatures verify under the target's root key (the client checks
    them on every call) and fail under any other key."""
    assert alice.connection.verify_certificates and alice.connection.verify_query_signatures
    assert alice.register_capsule().success
    assert alice.get_api_version()
    impostor = Connection(target.url, generate_ed25519(), root_key=_other_root_key())
    try:
        wrong = target.client("wrong-root-key", impostor.identity, connection=impostor)
        with pytest.raises(IntegrityError):
            wrong.register_capsule()
        with pytest.raises(IntegrityError):
            wrong.get_api_version()
        path = [b"canister", principal_bytes(target.canister_id), b"module_hash"]
        with pytest.raises(VerificationError):
            impostor.read_state(target.canister_id, [path])
    finally:
        impostor.close()
