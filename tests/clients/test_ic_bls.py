"""BLS verification (arkworks) against the V6 known-answer vector produced by agent-js/noble."""

from __future__ import annotations

import pytest

from clients.ic.bls import verify_bls
from tests.clients.ic_testkit import VECTORS, bls_keypair, bls_sign

V6 = VECTORS["V6_bls"]
SIG = bytes.fromhex(V6["signature_g1_compressed_hex"])
MSG = bytes.fromhex(V6["signed_message_hex"])
PK = bytes.fromhex(V6["public_key_g2_compressed_hex"])


def test_known_answer_verifies() -> None:
    assert verify_bls(SIG, MSG, PK)


def test_tampered_message_is_rejected() -> None:
    assert not verify_bls(SIG, MSG[:-1] + bytes([MSG[-1] ^ 1]), PK)


def test_other_key_is_rejected() -> None:
    _, other_der = bls_keypair(b"someone else")
    assert not verify_bls(SIG, MSG, other_der[-96:])


def test_signature_from_our_test_signer_matches_the_vector() -> None:
    # Pins the test kit's signer (used to fake targets) to the same scheme as the vector.
    assert bls_sign(int(V6["secret_key_hex_big_endian"], 16), MSG) == SIG


@pytest.mark.parametrize(
    ("sig", "pk"),
    [
        (SIG[:-1], PK),  # short signature
        (SIG, PK[:-1]),  # short key
        (b"\x00" * 48, PK),  # no compression flag
        (b"\xff" * 48, PK),  # arkworks decodes this to the identity; it is not a canonical encoding
        (SIG, bytes([0xC0]) + b"\x00" * 95),  # the identity public key
        (bytes([SIG[0] ^ 0x20]) + SIG[1:], PK),  # other y: a different (valid) point
    ],
    ids=["short-sig", "short-key", "no-flag", "non-canonical", "identity-key", "negated-sig"],
)
def test_malformed_inputs_are_false_not_errors(sig: bytes, pk: bytes) -> None:
    assert verify_bls(sig, MSG, pk) is False


def test_a_cached_key_still_refuses_what_it_refused_and_accepts_what_it_accepted() -> None:
    # verify_bls keeps decoded public keys: the second round answers from the cache.
    for _ in range(2):
        assert verify_bls(SIG, MSG, PK)
        assert not verify_bls(SIG, MSG[:-1] + bytes([MSG[-1] ^ 1]), PK)
        assert not verify_bls(SIG, MSG, bytes([0xC0]) + b"\x00" * 95)
        assert not verify_bls(b"\xff" * 48, MSG, PK)
