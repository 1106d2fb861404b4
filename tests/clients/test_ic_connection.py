"""``Connection`` against a scripted MockTransport target: every response path, no network."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from icp_candid import Types, encode

from clients.ic import (
    CertificateError,
    Connection,
    HTTPStatusError,
    PollTimeout,
    ProtocolError,
    QuerySignatureError,
    Reject,
    TransportError,
    generate_ed25519,
)
from tests.clients.ic_testkit import CANISTER, FakeTarget, leb128

ARG = b"DIDL\x00\x01\x71\x02hi"


def _requests(target: FakeTarget, kind: str) -> int:
    return sum(1 for path, _ in target.log if path.endswith(kind))


def test_signed_query_is_verified_and_node_keys_are_cached(target: FakeTarget) -> None:
    conn = target.connection(generate_ed25519())
    for _ in range(3):
        assert conn.query_raw(CANISTER, "greet", ARG) == ARG
    assert _requests(target, "/query") == 3
    assert _requests(target, "/read_state") == 1  # one [["subnet"]] read for three queries


def test_bad_query_signature_is_refused_after_one_refetch(target: FakeTarget) -> None:
    conn = target.connection()
    conn.query_raw(CANISTER, "greet", ARG)
    target.tamper_query_signature = True
    with pytest.raises(QuerySignatureError, match="does not verify"):
        conn.query_raw(CANISTER, "greet", ARG)
    assert _requests(target, "/read_state") == 2  # cached keys failed, so they were re-read once


def test_query_signature_check_can_be_turned_off(target: FakeTarget) -> None:
    target.tamper_query_signature = True
    conn = target.connection(verify_query_signatures=False)
    assert conn.query_raw(CANISTER, "greet", ARG) == ARG
    assert _requests(target, "/read_state") == 0


def test_query_reject_is_uncertified(target: FakeTarget) -> None:
    target.on_query = lambda c: {
        "status": "rejected",
        "reject_code": 5,
        "reject_message": "Canister has no query method 'nope'.",
        "error_code": "IC0536",
    }
    with pytest.raises(Reject) as info:
        target.connection().query_raw(CANISTER, "nope", ARG)
    assert (info.value.reject_code, info.value.error_code, info.value.certified) == (5, "IC0536", False)
    assert "no query method" in info.value.reject_message


def test_update_sync_reply_is_certified(target: FakeTarget) -> None:
    conn = target.connection(generate_ed25519())
    assert conn.update_raw(CANISTER, "echo", ARG) == ARG
    assert [kind for _, kind in target.log] == ["call"]  # no polling, no status fetch (root key pinned)


def test_update_certified_reject(target: FakeTarget) -> None:
    target.reject_certified(5, "Canister called `ic0.trap` with message: 'boom'", "IC0503")
    with pytest.raises(Reject) as info:
        target.connection().update_raw(CANISTER, "fail", ARG)
    assert (info.value.reject_code, info.value.error_code, info.value.certified) == (5, "IC0503", True)
    assert "boom" in str(info.value)


@pytest.mark.parametrize("with_status", [True, False], ids=["v4-status", "v2-style"])
def test_non_replicated_rejection(target: FakeTarget, with_status: bool) -> None:
    body: dict[str, Any] = {
        "reject_code": 4,
        "reject_message": "Canister rejected the message",
        "error_code": "IC0406",
    }
    if with_status:
        body["status"] = "non_replicated_rejection"
    target.on_call = lambda c, rid: (200, body)
    with pytest.raises(Reject) as info:
        target.connection().update_raw(CANISTER, "m", ARG)
    assert (info.value.reject_code, info.value.certified) == (4, False)


def test_202_falls_back_to_polling_until_terminal(target: FakeTarget) -> None:
    pending: dict[bytes, int] = {}

    def on_call(content: dict[str, Any], rid: bytes) -> tuple[int, None]:
        target.statuses[rid] = {b"status": b"processing"}
        pending[rid] = 0
        return 202, None

    original = target.handler

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/read_state"):
            for rid in pending:
                pending[rid] += 1
                if pending[rid] == 3:
                    target.statuses[rid] = {b"status": b"replied", b"reply": ARG}
        return original(request)

    target.on_call = on_call
    target.handler = handler  # type: ignore[method-assign]
    assert target.connection().update_raw(CANISTER, "slow", ARG) == ARG
    assert _requests(target, "/read_state") == 3


def test_404_on_v4_call_falls_back_to_v2_and_polls(target: FakeTarget) -> None:
    target.http_errors["/api/v4/canister/" + CANISTER + "/call"] = (404, "not supported")

    def on_call(content: dict[str, Any], rid: bytes) -> tuple[int, None]:
        target.statuses[rid] = {b"status": b"replied", b"reply": content["arg"]}
        return 202, None

    target.on_call = on_call
    assert target.connection().update_raw(CANISTER, "m", ARG) == ARG
    assert [p.split("/")[2] + p[p.rindex("/") :] for p, _ in target.log] == ["v2/call", "v3/read_state"]


def test_accepted_certificate_without_status_polls(target: FakeTarget) -> None:
    def on_call(content: dict[str, Any], rid: bytes) -> tuple[int, dict[str, Any]]:
        cert = target.certificate()  # no request_status for rid yet
        target.statuses[rid] = {b"status": b"rejected", b"reject_code": leb128(4), b"reject_message": b"no"}
        return 200, {"status": "replied", "certificate": cert}

    target.on_call = on_call
    with pytest.raises(Reject) as info:
        target.connection().update_raw(CANISTER, "m", ARG)
    assert info.value.certified and info.value.error_code is None


def test_poll_timeout(target: FakeTarget) -> None:
    target.on_call = lambda c, rid: (202, None)
    with pytest.raises(PollTimeout):
        target.connection(update_timeout=0.2).update_raw(CANISTER, "m", ARG)


def test_http_status_errors_carry_the_body(target: FakeTarget) -> None:
    target.http_errors["/call"] = (
        400,
        "Invalid request expiry: Specified ingress_expiry not within expected range",
    )
    with pytest.raises(HTTPStatusError) as info:
        target.connection().update_raw(CANISTER, "m", ARG)
    assert info.value.status_code == 400
    assert info.value.body.startswith("Invalid request expiry: ")
    assert info.value.url.endswith(f"/api/v4/canister/{CANISTER}/call")


def test_network_errors_become_transport_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    conn = Connection("http://nowhere.test", http=httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(TransportError) as info:
        conn.status()
    assert isinstance(info.value.cause, httpx.ConnectError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.url == "http://nowhere.test/api/v2/status"


def test_garbage_bodies_are_protocol_errors(target: FakeTarget) -> None:
    target.handler = lambda request: httpx.Response(200, content=b"\xff\xff")  # type: ignore[method-assign]
    with pytest.raises(ProtocolError, match="not CBOR"):
        target.connection(verify_query_signatures=False).query_raw(CANISTER, "greet", ARG)
    target.handler = lambda request: httpx.Response(200, content=b"\x83\x01\x02\x03")  # type: ignore[method-assign]
    with pytest.raises(ProtocolError, match="not a CBOR map"):
        target.connection(verify_query_signatures=False).query_raw(CANISTER, "greet", ARG)


def test_root_key_is_fetched_once_when_not_given(target: FakeTarget) -> None:
    conn = target.connection(root_key=None)
    conn.query_raw(CANISTER, "greet", ARG)
    conn.update_raw(CANISTER, "echo", ARG)
    assert conn.root_key == target.root_key
    assert [p for p, _ in target.log].count("/api/v2/status") == 1


def test_wrong_root_key_fails_certificates_and_queries(target: FakeTarget) -> None:
    impostor = FakeTarget(b"impostor")
    conn = target.connection(root_key=impostor.root_key)
    with pytest.raises(CertificateError):
        conn.update_raw(CANISTER, "echo", ARG)
    with pytest.raises(CertificateError):
        conn.query_raw(CANISTER, "greet", ARG)  # the node keys' certificate does not verify
    with pytest.raises(CertificateError):
        conn.read_state(CANISTER, [[b"time"]])
    unchecked = target.connection(
        root_key=impostor.root_key, verify_certificates=False, verify_query_signatures=False
    )
    assert unchecked.update_raw(CANISTER, "echo", ARG) == ARG


def test_certificate_time_skew_is_refused(target: FakeTarget) -> None:
    target.clock = lambda: 1_700_000_000_000_000_000
    with pytest.raises(CertificateError, match="local clock"):
        target.connection().update_raw(CANISTER, "echo", ARG)


def test_two_targets_with_different_root_keys_in_one_process() -> None:
    a, b = FakeTarget(b"a"), FakeTarget(b"b")
    conn_a, conn_b = a.connection(), b.connection()
    for _ in range(2):
        assert conn_a.update_raw(CANISTER, "echo", ARG) == ARG
        assert conn_b.update_raw(CANISTER, "echo", ARG) == ARG
        assert conn_a.query_raw(CANISTER, "greet", ARG) == ARG
        assert conn_b.query_raw(CANISTER, "greet", ARG) == ARG
    crossed = b.connection(root_key=a.root_key)
    with pytest.raises(CertificateError):
        crossed.update_raw(CANISTER, "echo", ARG)


def test_with_identity_shares_pool_and_caches(target: FakeTarget) -> None:
    conn = target.connection()
    conn.query_raw(CANISTER, "greet", ARG)
    alice = conn.with_identity(generate_ed25519())
    assert alice._http is conn._http
    alice.query_raw(CANISTER, "greet", ARG)
    assert _requests(target, "/read_state") == 1
    alice.close()  # does not close the shared pool
    conn.query_raw(CANISTER, "greet", ARG)


DID = "service : { greet : (text) -> (text) query; inc : (nat64) -> (nat64, opt text) }"


def test_typed_calls_pick_query_or_update_from_the_did(target: FakeTarget) -> None:
    target.on_query = lambda c: {
        "status": "replied",
        "reply": {"arg": encode([{"type": Types.Text, "value": "hi!"}])},
    }

    def on_call(content: dict[str, Any], rid: bytes) -> tuple[int, dict[str, Any]]:
        reply = encode([{"type": Types.Nat64, "value": 7}, {"type": Types.Opt(Types.Text), "value": ["x"]}])
        target.statuses[rid] = {b"status": b"replied", b"reply": reply}
        return 200, {"status": "replied", "certificate": target.certificate()}

    target.on_call = on_call
    canister = target.connection().canister(CANISTER, DID)
    assert canister.greet("there") == "hi!"
    assert canister.inc(6) == (7, ["x"])
    assert [kind for _, kind in target.log if kind != "read_state"] == ["query", "call"]
    with pytest.raises(TypeError, match="not a valid Candid nat64"):
        canister.inc("6")
    with pytest.raises(TypeError, match="expected 1 Candid argument"):
        canister.greet()
    with pytest.raises(AttributeError, match="no method 'nope'"):
        _ = canister.nope


def test_reply_that_does_not_decode_is_a_protocol_error(target: FakeTarget) -> None:
    target.on_query = lambda c: {"status": "replied", "reply": {"arg": b"not candid"}}
    with pytest.raises(ProtocolError, match="cannot decode Candid"):
        target.connection().query(CANISTER, "greet", ["x"], [Types.Text], [Types.Text])
