"""Every envelope-level refusal over real HTTP: exact status and text, server still up, state unchanged.

Each case builds a deliberately wrong request with the client's envelope builder, posts it to a real
emulator process, and then checks the two promises of the project: the emulator still answers, and
the canister's counter (the only state the example canister has) did not move.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import cbor2
import httpx
import pytest
from icp_candid import Types, encode
from nacl.signing import SigningKey

from clients.ic import Connection, Reject, build_envelope, call_content, generate_ed25519, query_content
from clients.ic.envelope import REQUEST_DOMAIN_SEPARATOR, principal_bytes, read_state_content, request_id
from emulator.principal import Principal
from tests.emulator_process import EXAMPLE_ID, EmulatorProcess

ED25519_DER_PREFIX = bytes.fromhex("302a300506032b6570032100")
DELEGATION_DOMAIN = b"\x1aic-request-auth-delegation"
EMPTY_ARGS = encode([])
MINUTE_NS = 60 * 1_000_000_000


class RawKey:
    """A bare Ed25519 key for hand-built delegation chains (the client identities hide their keys)."""

    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.der = ED25519_DER_PREFIX + bytes(self.key.verify_key)
        self.principal = Principal.self_authenticating(self.der)

    def sign(self, message: bytes) -> bytes:
        return bytes(self.key.sign(message).signature)


def delegated_envelope(content: dict[str, object], *, expiration: int, targets: list[bytes] | None) -> bytes:
    """root --delegates to--> session; the session key signs the request."""
    root, session = RawKey(), RawKey()
    content = dict(content, sender=root.principal.raw)
    delegation: dict[str, object] = {"pubkey": session.der, "expiration": expiration}
    if targets is not None:
        delegation["targets"] = targets
    signed = {"delegation": delegation, "signature": root.sign(DELEGATION_DOMAIN + request_id(delegation))}
    envelope = {
        "content": content,
        "sender_pubkey": root.der,
        "sender_delegation": [signed],
        "sender_sig": session.sign(REQUEST_DOMAIN_SEPARATOR + request_id(content)),
    }
    return cbor2.dumps(cbor2.CBORTag(55799, envelope))


@dataclass
class Case:
    name: str
    path: str  # relative to /api, {cid} substituted
    body: Callable[[Connection], bytes]
    status: int
    text: str  # exact text, or a prefix when it ends with "…"


def _sender(conn: Connection) -> bytes:
    return bytes(conn.identity.sender().bytes)


def _call(conn: Connection, **kw: object) -> dict[str, object]:
    return call_content(_sender(conn), EXAMPLE_ID, "inc", EMPTY_ARGS, **kw)  # type: ignore[arg-type]


def _now() -> int:
    return time.time_ns()


CASES = [
    Case(
        "malformed CBOR",
        "/v4/canister/{cid}/call",
        lambda c: b"\xd9\xd9\xf7\xa1\x67",
        400,
        "Could not parse body as call message: …",
    ),
    Case(
        "not a map",
        "/v4/canister/{cid}/call",
        lambda c: cbor2.dumps([1, 2, 3]),
        400,
        "Could not parse body as call message: …",
    ),
    Case(
        "query sent to call endpoint",
        "/v4/canister/{cid}/call",
        lambda c: build_envelope(query_content(_sender(c), EXAMPLE_ID, "get", EMPTY_ARGS), c.identity),
        400,
        "Could not parse body as call message: unknown variant `query`, expected `call`",
    ),
    Case(
        "wrong canister id in path",
        "/v4/canister/uxrrr-q7777-77774-qaaaq-cai/call",
        lambda c: build_envelope(_call(c), c.identity),
        400,
        f"Specified CanisterId {EXAMPLE_ID} does not match effective canister id in URL "
        "uxrrr-q7777-77774-qaaaq-cai",
    ),
    Case(
        "expired ingress expiry",
        "/v4/canister/{cid}/call",
        lambda c: build_envelope(_call(c, ingress_expiry=_now() - MINUTE_NS), c.identity),
        400,
        "Invalid request expiry: Specified ingress_expiry not within expected range: …",
    ),
    Case(
        "far-future ingress expiry",
        "/v4/canister/{cid}/call",
        lambda c: build_envelope(_call(c, ingress_expiry=_now() + 60 * MINUTE_NS), c.identity),
        400,
        "Invalid request expiry: Specified ingress_expiry not within expected range: …",
    ),
    Case(
        "bad sender signature",
        "/v4/canister/{cid}/call",
        lambda c: build_envelope(_call(c), c.identity, tamper_signature=True),
        400,
        "Invalid signature: Invalid basic signature: Ed25519 signature could not be verified: …",
    ),
    Case(
        "sender does not match key",
        "/v4/canister/{cid}/call",
        lambda c: build_envelope(_call(c), c.identity, sender_pubkey=RawKey().der),
        400,
        "The user id '…",
    ),
    Case(
        "expired delegation",
        "/v4/canister/{cid}/call",
        lambda c: delegated_envelope(_call(c), expiration=_now() - MINUTE_NS, targets=None),
        400,
        "Invalid delegation expiry: Specified sender delegation has expired:…",
    ),
    Case(
        "delegation target mismatch",
        "/v4/canister/{cid}/call",
        lambda c: delegated_envelope(
            _call(c),
            expiration=_now() + 10 * MINUTE_NS,
            targets=[Principal.from_text("uxrrr-q7777-77774-qaaaq-cai").raw],
        ),
        400,
        f"Canister '{EXAMPLE_ID}' is not one of the delegation targets.",
    ),
    Case(
        "body over 2 MiB",
        "/v4/canister/{cid}/call",
        lambda c: build_envelope(
            call_content(
                _sender(c),
                EXAMPLE_ID,
                "echo_blob",
                encode([{"type": Types.Vec(Types.Nat8), "value": os.urandom(2 * 1024 * 1024)}]),
            ),
            c.identity,
        ),
        413,
        "Request body is too large: …",
    ),
    Case(
        "signature from the anonymous user",
        "/v3/canister/{cid}/query",
        lambda c: cbor2.dumps(
            {
                "content": query_content(b"\x04", EXAMPLE_ID, "get", EMPTY_ARGS),
                "sender_pubkey": RawKey().der,
                "sender_sig": b"\x00" * 64,
            }
        ),
        400,
        "Signature is not allowed for the anonymous user.",
    ),
    Case(
        "unsupported read_state path",
        "/v3/canister/{cid}/read_state",
        lambda c: build_envelope(
            read_state_content(_sender(c), [["canister", principal_bytes(EXAMPLE_ID), "certified_data"]]),
            c.identity,
        ),
        404,
        "Invalid path requested.",
    ),
]


def _matches(text: str, expected: str) -> bool:
    return text.startswith(expected[:-1]) if expected.endswith("…") else text == expected


@pytest.fixture(scope="module")
def conn(emulator: EmulatorProcess) -> Connection:
    return Connection(emulator.url, generate_ed25519())


def _counter(conn: Connection) -> int:
    return int(conn.query(EXAMPLE_ID, "get", ret_types=[Types.Nat64]))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused_with_exact_text_and_nothing_changes(
    conn: Connection, emulator: EmulatorProcess, case: Case
) -> None:
    before = _counter(conn)
    response = httpx.post(
        f"{emulator.url}/api{case.path.format(cid=EXAMPLE_ID)}",
        content=case.body(conn),
        headers={"Content-Type": "application/cbor"},
        timeout=30,
    )
    assert response.status_code == case.status, response.text
    assert _matches(response.text, case.text), f"{response.text!r} does not match {case.text!r}"
    assert emulator.alive()
    assert _counter(conn) == before


def test_unknown_canister_is_a_non_replicated_reject(conn: Connection, emulator: EmulatorProcess) -> None:
    unknown = "ufxgi-4p777-77774-qaadq-cai"  # in the subnet's range, never created
    body = build_envelope(call_content(_sender(conn), unknown, "inc", EMPTY_ARGS), conn.identity)
    response = httpx.post(
        f"{emulator.url}/api/v4/canister/{unknown}/call",
        content=body,
        headers={"Content-Type": "application/cbor"},
    )
    assert response.status_code == 200
    reply = cbor2.loads(response.content)
    assert (reply["status"], reply["reject_code"], reply["error_code"]) == (
        "non_replicated_rejection",
        3,
        "IC0301",
    )
    assert reply["reject_message"] == f"Canister {unknown} not found."
    with pytest.raises(Reject) as info:
        conn.update(unknown, "inc", ret_types=[Types.Nat64])
    assert info.value.reject_code == 3


def test_read_state_of_another_senders_request_is_forbidden(
    conn: Connection, emulator: EmulatorProcess
) -> None:
    content = call_content(_sender(conn), EXAMPLE_ID, "inc", EMPTY_ARGS)
    assert (
        httpx.post(
            f"{emulator.url}/api/v4/canister/{EXAMPLE_ID}/call",
            content=build_envelope(content, conn.identity),
            headers={"Content-Type": "application/cbor"},
        ).status_code
        == 200
    )
    other = generate_ed25519()
    paths: list[list[bytes | str]] = [["request_status", request_id(content)]]
    body = build_envelope(read_state_content(bytes(other.sender().bytes), paths), other)
    response = httpx.post(
        f"{emulator.url}/api/v3/canister/{EXAMPLE_ID}/read_state",
        content=body,
        headers={"Content-Type": "application/cbor"},
    )
    assert response.status_code == 403
    assert response.text == "The user tries to access Request ID not signed by the caller."


def test_resubmitted_request_is_answered_from_the_stored_status(
    conn: Connection, emulator: EmulatorProcess
) -> None:
    """The same signed call twice executes once: the second answer is the first one's certificate."""
    content = call_content(_sender(conn), EXAMPLE_ID, "inc", EMPTY_ARGS)
    body = build_envelope(content, conn.identity)
    url = f"{emulator.url}/api/v4/canister/{EXAMPLE_ID}/call"
    first = httpx.post(url, content=body, headers={"Content-Type": "application/cbor"})
    after_first = _counter(conn)
    second = httpx.post(url, content=body, headers={"Content-Type": "application/cbor"})
    assert first.status_code == second.status_code == 200
    assert _counter(conn) == after_first
    replies = []
    for r in (first, second):
        cert = cbor2.loads(cbor2.loads(r.content)["certificate"])
        replies.append(cert)
    from clients.ic import verify_certificate

    rid = request_id(content)
    one, two = (
        verify_certificate(r, conn.root_key).lookup(["request_status", rid, "reply"]) for r in replies
    )
    assert one == two and one is not None
