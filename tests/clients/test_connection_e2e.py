"""``Connection`` against a real emulator process, with certificate and query-signature checks on.

Uses the session fixture ``emulator`` from ``tests/conftest.py`` (attributes ``url`` and
``example_canister_id``; the example canister's interface is ``DID`` below).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from icp_candid import Types, encode
from icp_principal import Principal

from clients.ic import (
    CertificateError,
    Connection,
    HTTPStatusError,
    Reject,
    anonymous_identity,
    build_envelope,
    call_content,
    generate_ed25519,
    load_pem,
    principal_of,
    query_content,
)
from clients.ic.bls import verify_bls
from clients.ic.certificates import decode_cbor
from tests.clients.ic_testkit import bls_keypair
from tests.emulator_process import EmulatorProcess

DID = """\
service : {
  greet : (text) -> (text) query;
  whoami : () -> (principal) query;
  whoami_update : () -> (principal);
  inc : () -> (nat64);
  get : () -> (nat64) query;
  fail : (text) -> (nat64);
  echo_blob : (blob) -> (blob);
}
"""


def _secp256k1() -> Any:
    key = ec.generate_private_key(ec.SECP256K1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return load_pem(pem)


IDENTITIES = {
    "ed25519": generate_ed25519,
    "secp256k1": _secp256k1,
    "anonymous": anonymous_identity,
}


class Recorder:
    """httpx event hook: which endpoints were hit, with which status codes."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def __call__(self, response: httpx.Response) -> None:
        self.seen.append((response.request.url.path.rsplit("/", 1)[-1], response.status_code))


@pytest.fixture(scope="module")
def url(emulator: Any) -> str:
    return str(emulator.url)


@pytest.fixture(scope="module")
def cid(emulator: Any) -> str:
    return str(emulator.example_canister_id)


@pytest.fixture
def conn(url: str) -> Iterator[Connection]:
    with Connection(url, generate_ed25519()) as c:
        yield c


@pytest.mark.parametrize("kind", IDENTITIES)
def test_signed_query_with_signature_verification(url: str, cid: str, kind: str) -> None:
    identity = IDENTITIES[kind]()
    recorder = Recorder()
    with httpx.Client(event_hooks={"response": [recorder]}) as http:
        conn = Connection(url, identity, http=http)
        assert conn.verify_query_signatures and conn.verify_certificates
        assert conn.call(cid, "greet", "world", did=DID) == "Hello, world!"
        assert conn.call(cid, "whoami", did=DID) == principal_of(identity)
    # Node keys came from one certified read_state, then were cached; the root key was fetched once.
    assert [e for e in recorder.seen if e[0] != "status"] == [
        ("query", 200),
        ("read_state", 200),
        ("query", 200),
    ]
    assert recorder.seen.count(("status", 200)) == 1


@pytest.mark.parametrize("kind", IDENTITIES)
def test_update_via_sync_call_with_verified_certificate(url: str, cid: str, kind: str) -> None:
    identity = IDENTITIES[kind]()
    recorder = Recorder()
    with httpx.Client(event_hooks={"response": [recorder]}) as http:
        conn = Connection(url, identity, http=http)
        _ = conn.root_key  # fetch it now so the log below shows only the call
        recorder.seen.clear()
        assert conn.call(cid, "whoami_update", did=DID) == principal_of(identity)
    assert recorder.seen == [("call", 200)]  # answered synchronously: no polling


def test_inc_increments_and_get_sees_it(conn: Connection, cid: str) -> None:
    canister = conn.canister(cid, DID)
    before = canister.get()
    assert canister.inc() == before + 1
    assert canister.get() == before + 1


def test_certified_reject_rolls_back(conn: Connection, cid: str) -> None:
    canister = conn.canister(cid, DID)
    before = canister.get()
    with pytest.raises(Reject) as info:
        canister.fail("boom")
    assert (info.value.reject_code, info.value.error_code, info.value.certified) == (5, "IC0503", True)
    assert "boom" in info.value.reject_message
    assert canister.get() == before


def test_unknown_method_is_rejected(conn: Connection, cid: str) -> None:
    with pytest.raises(Reject) as info:
        conn.query_raw(cid, "no_such_method", encode([]))
    assert (info.value.reject_code, info.value.error_code) == (5, "IC0536")
    with pytest.raises(Reject) as info:
        conn.update_raw(cid, "no_such_method", encode([]))
    assert (info.value.reject_code, info.value.error_code) == (5, "IC0536")


def test_update_method_via_query_endpoint_is_rejected(conn: Connection, cid: str) -> None:
    with pytest.raises(Reject) as info:
        conn.query_raw(cid, "inc", encode([]))
    assert (info.value.reject_code, info.value.error_code) == (5, "IC0536")


def test_wrong_candid_arguments_are_rejected(conn: Connection, cid: str) -> None:
    with pytest.raises(Reject) as info:
        conn.query_raw(cid, "greet", encode([{"type": Types.Nat, "value": 5}]))
    assert (info.value.reject_code, info.value.error_code) == (5, "IC0503")
    with pytest.raises(Reject) as info:
        conn.update_raw(cid, "echo_blob", encode([{"type": Types.Text, "value": "not a blob"}]))
    assert (info.value.reject_code, info.value.error_code, info.value.certified) == (5, "IC0503", True)


def test_echo_blob_round_trips_bytes(conn: Connection, cid: str) -> None:
    data = bytes(range(256)) * 400
    assert conn.call(cid, "echo_blob", data, did=DID) == data


def test_read_state_time_controllers_module_hash_and_candid(conn: Connection, cid: str) -> None:
    cid_bytes = Principal.from_str(cid).bytes
    time_cert = conn.read_state(cid, [["time"]])
    assert time_cert.time_ns > 0  # and, being verified, within ±5 min of this clock

    controllers = conn.read_state(cid, [["canister", cid_bytes, "controllers"]])
    raw = controllers.lookup(["canister", cid_bytes, "controllers"])
    assert raw is not None
    principals = [Principal(bytes(p)).to_str() for p in decode_cbor(raw)]
    assert principals, "the example canister has at least one controller"

    module = conn.read_state(cid, [["canister", cid_bytes, "module_hash"]])
    module_hash = module.lookup(["canister", cid_bytes, "module_hash"])
    assert module_hash is not None and len(module_hash) == 32

    meta = conn.read_state(cid, [["canister", cid_bytes, "metadata", "candid:service"]])
    candid = meta.lookup(["canister", cid_bytes, "metadata", "candid:service"])
    assert candid is not None and b"greet" in candid and b"echo_blob" in candid


def test_tampered_root_key_fails_verification(url: str, cid: str) -> None:
    real = Connection(url).root_key
    tampered = real[:-1] + bytes([real[-1] ^ 0x01])
    conn = Connection(url, generate_ed25519(), root_key=tampered)
    with pytest.raises(CertificateError):
        conn.call(cid, "inc", did=DID)
    with pytest.raises(CertificateError):
        conn.call(cid, "greet", "x", did=DID)  # the node keys' certificate does not verify
    with pytest.raises(CertificateError):
        conn.read_state(cid, [["time"]])


def test_two_connections_with_different_root_keys(url: str, cid: str) -> None:
    good = Connection(url, generate_ed25519())
    _, other_key = bls_keypair(b"not the emulator's key")
    bad = Connection(url, generate_ed25519(), root_key=other_key)
    for _ in range(2):  # interleaved in one process: no shared verification state
        assert good.call(cid, "greet", "a", did=DID) == "Hello, a!"
        with pytest.raises(CertificateError):
            bad.call(cid, "greet", "b", did=DID)
        assert isinstance(good.call(cid, "inc", did=DID), int)
        with pytest.raises(CertificateError):
            bad.call(cid, "inc", did=DID)


def test_status_serves_a_bls_root_key(conn: Connection) -> None:
    status = conn.status()
    assert isinstance(status["root_key"], bytes) and len(status["root_key"]) == 133


def test_tampered_envelopes_are_refused_with_4xx(conn: Connection, cid: str) -> None:
    identity = conn.identity
    content = query_content(
        identity.sender().bytes, cid, "greet", encode([{"type": Types.Text, "value": "x"}])
    )
    response = conn.post(
        f"/api/v3/canister/{cid}/query", build_envelope(content, identity, tamper_signature=True)
    )
    assert response.status_code in (400, 403), response.text
    call = call_content(identity.sender().bytes, cid, "inc", encode([]), ingress_expiry=1)
    response = conn.post(f"/api/v4/canister/{cid}/call", build_envelope(call, identity))
    assert response.status_code == 400
    assert response.text.startswith("Invalid request expiry: "), response.text
    with pytest.raises(HTTPStatusError) as info:
        conn.with_identity(generate_ed25519()).read_state(cid, [["request_status", b"\x00" * 31]])
    assert 400 <= info.value.status_code < 500


# ---------------------------------------------------------------- a target without synchronous calls


@pytest.fixture(scope="module")
def v2_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    proc = EmulatorProcess(tmp_path_factory.mktemp("emu-v2-client") / "state", extra_args=["--no-sync-call"])
    proc.start()
    yield proc
    proc.stop()


def test_v4_404_falls_back_to_v2_call_and_polls(v2_only: EmulatorProcess) -> None:
    recorder = Recorder()
    with httpx.Client(event_hooks={"response": [recorder]}) as http:
        conn = Connection(v2_only.url, generate_ed25519(), http=http)
        canister = conn.canister(v2_only.example_canister_id, DID)
        before = canister.get()
        assert canister.inc() == before + 1
        with pytest.raises(Reject) as info:
            canister.fail("polled")
    assert info.value.certified and info.value.error_code == "IC0503"
    calls = [entry for entry in recorder.seen if entry[0] == "call"]
    assert calls[:2] == [("call", 404), ("call", 202)]
    assert ("read_state", 200) in recorder.seen


class CountingVerifier:
    """A ``BlsVerifier`` that delegates to ``verify_bls`` (or refuses everything) and counts calls."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.calls = 0

    def __call__(self, signature48: bytes, message: bytes, public_key96: bytes) -> bool:
        self.calls += 1
        return False if self.refuse else verify_bls(signature48, message, public_key96)


def test_the_connections_bls_verifier_checks_every_certificate(url: str, cid: str) -> None:
    verifier = CountingVerifier()
    with Connection(url, generate_ed25519(), bls_verifier=verifier) as c:
        canister = c.canister(cid, DID)
        before = canister.get()
        assert canister.inc() == before + 1
        c.read_state(cid, [[b"time"]])
    # One BLS check for the subnet's node keys (read once, for the query signatures), one for the
    # update's certificate, one for read_state; the queries carry node signatures, not certificates.
    assert verifier.calls == 3


def test_a_refusing_bls_verifier_means_no_reply_is_used(url: str, cid: str) -> None:
    with Connection(url, generate_ed25519()) as good:
        before = good.canister(cid, DID).get()
        with Connection(url, generate_ed25519(), bls_verifier=CountingVerifier(refuse=True)) as c:
            with pytest.raises(CertificateError, match="BLS signature does not verify"):
                c.canister(cid, DID).inc()
            with pytest.raises(CertificateError, match="BLS signature does not verify"):
                c.read_state(cid, [[b"time"]])
        # The update ran on the canister (the refusal is the client's), but its reply never reached us.
        assert good.canister(cid, DID).get() == before + 1
