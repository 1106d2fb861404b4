"""One ``Connection`` shared by many threads: every reply is verified, each caller gets its own.

Verification now leans on shared state (a cached, checked BLS public key; cached node keys, parsed
canister ids and URLs), and arkworks' pairing check lets threads run side by side without the GIL.
These tests check what that must not change: under concurrency a reply is returned only once its
certificate (or its node signature) checks out, a tampered one is refused even while good ones
around it pass, and no caller receives another caller's reply. They use ``FakeTarget`` (scripted
replies signed with keys the test controls) so the tampering is exact, and a real emulator for the
same properties end to end. No timing is asserted; the thread joins have generous hang guards.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cbor2
import pytest

from clients.ic import CertificateError, Connection, QuerySignatureError, generate_ed25519
from clients.ic.bls import verify_bls
from tests.clients.ic_testkit import (
    CANISTER,
    FakeTarget,
    bls_keypair,
    bls_sign,
    make_certificate,
    make_tree,
    tree_digest,
)
from tests.clients.test_connection_e2e import DID

THREADS = 8
CALLS_PER_THREAD = 12
HANG_GUARD = 120.0  # seconds; "did not hang", not a performance bound


def _run_all(jobs: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run ``jobs`` on THREADS threads; each result is the return value or the exception raised."""

    def guarded(job: Callable[[], Any]) -> Any:
        try:
            return job()
        except Exception as exc:  # collected and asserted on by the caller
            return exc

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(guarded, job) for job in jobs]
        return [f.result(timeout=HANG_GUARD) for f in futures]


def _tampering_target() -> FakeTarget:
    """A target that answers each call according to its argument's first bytes.

    ``good`` replies correctly; ``tree`` signs the certificate, then swaps the reply in its tree (a
    man in the middle changing the answer); ``key`` signs a correct tree with a key that is not the
    root key; ``sig`` flips one bit of a correct signature.
    """
    target = FakeTarget(b"concurrency-root")
    other_sk, _ = bls_keypair(b"not the root key")

    def on_call(content: dict[str, Any], rid: bytes) -> tuple[int, dict[str, Any]]:
        arg = bytes(content["arg"])
        target.statuses[rid] = {b"status": b"replied", b"reply": arg}
        state = target.state()
        if arg.startswith(b"tree"):
            cert = make_certificate(state, target.sk)  # signed over the honest tree...
            honest = state[b"request_status"][rid][b"reply"]
            forged = honest.replace(b"tree", b"good", 1)
            cert = cert.replace(honest, forged)  # ...then the reply is changed in transit
            assert forged in cert
        elif arg.startswith(b"key"):
            cert = make_certificate(state, other_sk)
        elif arg.startswith(b"sig"):
            tree = make_tree(state)
            signature = bls_sign(target.sk, b"\x0dic-state-root" + tree_digest(tree))
            flipped = signature[:20] + bytes([signature[20] ^ 0x01]) + signature[21:]
            cert = cbor2.dumps(cbor2.CBORTag(55799, {"tree": tree, "signature": flipped}))
        else:
            cert = make_certificate(state, target.sk)
        return 200, {"status": "replied", "certificate": cert}

    target.on_call = on_call
    return target


def test_tampered_certificates_are_refused_while_good_ones_pass_concurrently() -> None:
    target = _tampering_target()
    conn = target.connection(generate_ed25519())
    kinds = ("good", "tree", "key", "sig")
    args = [f"{kinds[i % 4]}-{i:04d}".encode() for i in range(THREADS * CALLS_PER_THREAD)]
    results = _run_all([functools.partial(conn.update_raw, CANISTER, "echo", arg) for arg in args])
    for arg, result in zip(args, results, strict=True):
        if arg.startswith(b"good"):
            assert result == arg  # its own reply, never a neighbour's
        else:
            assert isinstance(result, CertificateError), (arg, result)
            assert "BLS signature does not verify" in str(result)
    # Every call was answered synchronously: nothing was polled, so no refusal came from elsewhere.
    assert {kind for _, kind in target.log} == {"call"}


def test_a_refused_certificate_is_refused_again_after_good_ones_filled_the_caches() -> None:
    target = _tampering_target()
    conn = target.connection(generate_ed25519())
    good: list[Callable[[], Any]] = [
        functools.partial(conn.update_raw, CANISTER, "echo", f"good-{i}".encode()) for i in range(THREADS)
    ]
    assert _run_all(good) == [f"good-{i}".encode() for i in range(THREADS)]
    with pytest.raises(CertificateError):
        conn.update_raw(CANISTER, "echo", b"tree-after")
    with pytest.raises(CertificateError):
        conn.update_raw(CANISTER, "echo", b"key-after")
    assert conn.update_raw(CANISTER, "echo", b"good-after") == b"good-after"


def test_tampered_query_signatures_are_refused_while_honest_ones_pass_concurrently() -> None:
    honest, forger = FakeTarget(b"honest-root"), FakeTarget(b"forging-root")
    forger.tamper_query_signature = True
    honest_conn, forger_conn = honest.connection(generate_ed25519()), forger.connection(generate_ed25519())
    jobs: list[Callable[[], Any]] = []
    for i in range(THREADS * CALLS_PER_THREAD):
        conn = forger_conn if i % 3 == 0 else honest_conn
        jobs.append(functools.partial(conn.query_raw, CANISTER, "echo", f"q-{i:04d}".encode()))
    results = _run_all(jobs)
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert isinstance(result, QuerySignatureError), result
        else:
            assert result == f"q-{i:04d}".encode()


@pytest.mark.parametrize(
    "public_key",
    [bytes([0xC0]) + b"\x00" * 95, b"\xff" * 96, b"\x00" * 96],
    ids=["identity-key", "non-canonical", "no-flag"],
)
def test_a_refused_public_key_stays_refused_from_many_threads(public_key: bytes) -> None:
    sk, der = bls_keypair(b"cache")
    message = b"\x0dic-state-root" + b"\x11" * 32
    signature = bls_sign(sk, message)
    jobs: list[Callable[[], Any]] = []
    for _ in range(THREADS * 4):
        jobs.append(lambda: verify_bls(signature, message, public_key))
        jobs.append(lambda: verify_bls(signature, message, der[-96:]))
    results = _run_all(jobs)
    assert results[0::2] == [False] * (THREADS * 4)
    assert results[1::2] == [True] * (THREADS * 4)


def test_one_connection_shared_by_threads_against_the_emulator(emulator: Any) -> None:
    """Real replies, real certificates: every increment is seen once, each by exactly one caller."""
    cid = str(emulator.example_canister_id)
    with Connection(str(emulator.url), generate_ed25519()) as conn:
        canister = conn.canister(cid, DID)
        before = canister.get()
        calls = THREADS * CALLS_PER_THREAD
        jobs: list[Callable[[], Any]] = [canister.inc for _ in range(calls)]
        jobs += [functools.partial(canister.greet, f"t{i}") for i in range(calls)]
        results = _run_all(jobs)
        counters, greetings = results[:calls], results[calls:]
        assert not [r for r in results if isinstance(r, Exception)]
        # Each update's certified reply is its own counter value: all distinct, no gaps.
        assert sorted(counters) == list(range(before + 1, before + calls + 1))
        assert greetings == [f"Hello, t{i}!" for i in range(calls)]
        assert canister.get() == before + calls
