"""Certificate parsing, lookup and verification against a root key passed in (never a global)."""

from __future__ import annotations

import time

import cbor2
import pytest

from clients.ic.certificates import Certificate, bls_key_from_der, decode_leb128, verify_certificate
from clients.ic.errors import CertificateError
from tests.clients.ic_testkit import VECTORS, FakeTarget, bls_keypair, leb128, make_certificate

V5 = VECTORS["V5_reply_tree"]
V6 = VECTORS["V6_bls"]
CERT = bytes.fromhex(V6["certificate_cbor_hex"])
ROOT = bytes.fromhex(V6["root_key_der_hex"])
RID = bytes.fromhex(VECTORS["V4_call_with_nonce"]["request_id_hex"])
V6_TIME = int(V5["time_ns"])


def test_v5_root_hash_and_lookups() -> None:
    cert = Certificate.from_cbor(CERT)
    assert cert.root_hash().hex() == V5["root_hash_hex"]
    assert cert.request_status(RID) == V5["lookup_status"]
    assert cert.lookup(["request_status", RID, "reply"]) == bytes.fromhex(V5["reply_arg_hex"])
    assert cert.time_ns == V6_TIME
    assert cert.children([b"request_status", RID]) == [b"reply", b"status"]
    assert cert.lookup(["request_status", RID, "nope"]) is None
    assert cert.lookup(["request_status", RID]) is None  # a subtree, not a leaf


def test_v6_certificate_verifies_against_its_root_key() -> None:
    cert = verify_certificate(CERT, ROOT, max_time_skew=None)
    assert cert.request_status(RID) == "replied"


def test_v6_certificate_fails_against_another_root_key() -> None:
    _, other = bls_keypair(b"not the v6 key")
    with pytest.raises(CertificateError, match="BLS signature does not verify"):
        verify_certificate(CERT, other, max_time_skew=None)


def test_time_check_is_on_by_default() -> None:
    # The vector's /time is 2023-11-14; today's clock is far away from it.
    with pytest.raises(CertificateError, match="from the local clock"):
        verify_certificate(CERT, ROOT)
    verify_certificate(CERT, ROOT, now_ns=V6_TIME + 299 * 10**9)
    with pytest.raises(CertificateError, match="from the local clock"):
        verify_certificate(CERT, ROOT, now_ns=V6_TIME + 301 * 10**9)
    with pytest.raises(CertificateError, match="from the local clock"):
        verify_certificate(CERT, ROOT, now_ns=V6_TIME - 301 * 10**9)
    verify_certificate(CERT, ROOT, now_ns=V6_TIME + 3600 * 10**9, max_time_skew=3601)


def test_tampered_tree_fails() -> None:
    decoded = cbor2.loads(CERT[3:])
    tree = list(decoded["tree"])
    tree[2] = [2, b"time", [3, leb128(V6_TIME + 1)]]
    tampered = cbor2.dumps({**decoded, "tree": tree})
    with pytest.raises(CertificateError):
        verify_certificate(tampered, ROOT, max_time_skew=None)


def test_two_root_keys_verify_independently_in_one_process() -> None:
    a, b = FakeTarget(b"target-a"), FakeTarget(b"target-b")
    cert_a, cert_b = a.certificate(), b.certificate()
    for _ in range(2):  # interleaved, so no state can leak from one verification into the next
        verify_certificate(cert_a, a.root_key)
        verify_certificate(cert_b, b.root_key)
        verify_certificate(CERT, ROOT, max_time_skew=None)
        with pytest.raises(CertificateError):
            verify_certificate(cert_a, b.root_key)
        with pytest.raises(CertificateError):
            verify_certificate(cert_b, a.root_key)


@pytest.mark.parametrize(
    "blob",
    [
        b"\x00",
        cbor2.dumps({"tree": [3, b"x"]}),
        cbor2.dumps({"tree": [9, b"x"], "signature": b"s"}),
        cbor2.dumps({"tree": [4, b"short"], "signature": b"s"}),
        cbor2.dumps({"tree": [2, "text-label", [0]], "signature": b"s"}),
        cbor2.dumps({"tree": [0], "signature": b"s", "delegation": {"subnet_id": b"x"}}),
    ],
    ids=["not-cbor", "no-signature", "bad-tag", "short-pruned", "text-label", "bad-delegation"],
)
def test_malformed_certificates_raise_certificate_error(blob: bytes) -> None:
    with pytest.raises(CertificateError):
        Certificate.from_cbor(blob)


def test_pruned_paths_read_as_missing() -> None:
    cert = Certificate([1, [4, b"\x11" * 32], [2, b"time", [3, b"\x01"]]], b"")
    assert cert.lookup([b"time"]) == b"\x01"
    assert cert.lookup([b"request_status"]) is None


def test_root_key_der_must_be_a_bls_key() -> None:
    assert len(bls_key_from_der(ROOT)) == 96
    with pytest.raises(CertificateError, match="not a BLS12-381"):
        bls_key_from_der(ROOT[:-1])
    with pytest.raises(CertificateError, match="not a BLS12-381"):
        bls_key_from_der(bytes.fromhex(VECTORS["V2_identity"]["der_public_key_hex"]))


def test_leb128() -> None:
    assert decode_leb128(bytes.fromhex(V5["time_leb128_hex"])) == V6_TIME
    assert decode_leb128(bytes.fromhex(VECTORS["V9_misc"]["leb128_of_624485"])) == 624485
    with pytest.raises(ValueError):
        decode_leb128(b"\x80")
    with pytest.raises(ValueError):
        decode_leb128(b"\x01\x01")


# ---------------------------------------------------------------- delegation


def _delegated(
    *,
    canister: bytes,
    inner_signer: int | None = None,
    ranges: list[list[bytes]] | None = None,
    sharded: bool = False,
    inner_time: int | None = None,
) -> tuple[bytes, bytes]:
    """(outer certificate, root key DER): root key → delegation to a subnet key → outer certificate."""
    root_sk, root_der = bls_keypair(b"delegation-root")
    subnet_sk, subnet_der = bls_keypair(b"delegation-subnet")
    subnet_id = b"\x01" * 29
    now = time.time_ns()
    ranges_blob = cbor2.dumps(cbor2.CBORTag(55799, ranges if ranges is not None else [[canister, canister]]))
    subnet_info: dict[bytes, object] = {b"public_key": subnet_der}
    inner_state: dict[bytes, object] = {
        b"time": leb128(inner_time or now),
        b"subnet": {subnet_id: subnet_info},
    }
    if sharded:
        inner_state[b"canister_ranges"] = {subnet_id: {canister: ranges_blob}}
    else:
        subnet_info[b"canister_ranges"] = ranges_blob
    inner = make_certificate(inner_state, inner_signer if inner_signer is not None else root_sk)
    outer = make_certificate(
        {b"time": leb128(now)}, subnet_sk, delegation={"subnet_id": subnet_id, "certificate": inner}
    )
    return outer, root_der


CANISTER_BYTES = bytes.fromhex(VECTORS["V2_misc_principals"]["rrkah_bytes_hex"])


@pytest.mark.parametrize("sharded", [False, True], ids=["subnet-ranges", "sharded-ranges"])
def test_valid_delegation_verifies(sharded: bool) -> None:
    outer, root = _delegated(canister=CANISTER_BYTES, sharded=sharded)
    verify_certificate(outer, root, effective_canister_id=CANISTER_BYTES)


def test_delegation_signed_by_another_key_fails() -> None:
    rogue_sk, _ = bls_keypair(b"rogue")
    outer, root = _delegated(canister=CANISTER_BYTES, inner_signer=rogue_sk)
    with pytest.raises(CertificateError, match="delegation certificate BLS signature"):
        verify_certificate(outer, root, effective_canister_id=CANISTER_BYTES)


def test_canister_outside_delegated_ranges_fails() -> None:
    outer, root = _delegated(canister=CANISTER_BYTES, ranges=[[b"\x00" * 10, b"\x00" * 9 + b"\x05"]])
    with pytest.raises(CertificateError, match="outside the delegated subnet"):
        verify_certificate(outer, root, effective_canister_id=CANISTER_BYTES)


def test_delegation_may_be_old_but_not_ancient() -> None:
    day = 24 * 3600 * 10**9
    outer, root = _delegated(canister=CANISTER_BYTES, inner_time=time.time_ns() - 10 * day)
    verify_certificate(outer, root, effective_canister_id=CANISTER_BYTES)
    outer, root = _delegated(canister=CANISTER_BYTES, inner_time=time.time_ns() - 31 * day)
    with pytest.raises(CertificateError, match="delegation certificate /time"):
        verify_certificate(outer, root, effective_canister_id=CANISTER_BYTES)


def test_nested_delegation_fails() -> None:
    outer, root = _delegated(canister=CANISTER_BYTES)
    subnet_sk, _ = bls_keypair(b"delegation-subnet")
    nested = make_certificate(
        {b"time": leb128(time.time_ns())},
        subnet_sk,
        delegation={"subnet_id": b"\x01" * 29, "certificate": outer},
    )
    with pytest.raises(CertificateError, match="itself delegated"):
        verify_certificate(nested, root, effective_canister_id=CANISTER_BYTES)
