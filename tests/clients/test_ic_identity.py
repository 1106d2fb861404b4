"""Identities: dfx PEM forms, generated keys, persistence, and the PyNaCl signer's equivalence."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from icp_identity import Identity
from icp_principal import Principal
from nacl.signing import VerifyKey

from clients.ic import (
    Ed25519Identity,
    anonymous_identity,
    generate_ed25519,
    identity_to_pem,
    load_pem,
    load_pem_file,
    principal_of,
    save_pem,
)
from tests.clients.ic_testkit import VECTORS

V2 = VECTORS["V2_identity"]
SEED = bytes.fromhex(V2["seed_hex"])
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _pem(der: bytes, label: str = "PRIVATE KEY") -> str:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n"


def test_v2_principal() -> None:
    identity = Ed25519Identity(SEED)
    assert identity.der_pubkey.hex() == V2["der_public_key_hex"]
    assert principal_of(identity) == V2["principal_text"]


def test_anonymous() -> None:
    assert principal_of(anonymous_identity()) == "2vxsx-fae"
    with pytest.raises(ValueError, match="anonymous"):
        identity_to_pem(anonymous_identity())


def test_generated_ed25519_round_trips_through_pem(tmp_path: Path) -> None:
    identity = generate_ed25519()
    path = tmp_path / "config" / "identity.pem"
    save_pem(identity, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_pem_file(path)
    assert isinstance(loaded, Ed25519Identity)
    assert principal_of(loaded) == principal_of(identity)
    assert loaded.sign(b"m") == identity.sign(b"m")
    assert list(tmp_path.joinpath("config").iterdir()) == [path]  # no temp file left behind


@pytest.mark.parametrize(
    "der_hex",
    [
        # PKCS#8 v1 (what cryptography and our to_pem write)
        None,
        # dfx legacy: v1 version number but with the public key appended ([1] 0x21 0x00 pk)
        "3053020101300506032b657004220420{seed}a123032100{pk}",
    ],
    ids=["pkcs8-v1", "dfx-legacy"],
)
def test_ed25519_pem_forms(der_hex: str | None) -> None:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(SEED)
    pk = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if der_hex is None:
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    else:
        pem = _pem(bytes.fromhex(der_hex.format(seed=SEED.hex(), pk=pk.hex())))
    identity = load_pem(pem)
    assert isinstance(identity, Ed25519Identity)
    assert principal_of(identity) == V2["principal_text"]


@pytest.mark.parametrize(
    "fmt",
    [serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8],
    ids=["sec1", "pkcs8"],
)
def test_secp256k1_pem_principal_is_self_authenticating_id_of_its_der_key(
    fmt: serialization.PrivateFormat, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256K1())
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
    if fmt is serialization.PrivateFormat.TraditionalOpenSSL:
        # dfx / `openssl ecparam -genkey` put an EC PARAMETERS block in front.
        pem = "-----BEGIN EC PARAMETERS-----\nBgUrgQQACg==\n-----END EC PARAMETERS-----\n" + pem
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    identity = load_pem(pem)
    assert principal_of(identity) == Principal.self_authenticating(der).to_str()
    assert principal_of(identity) == Principal(hashlib.sha224(der).digest() + b"\x02").to_str()
    # It saves and reloads too.
    save_pem(identity, tmp_path / "k.pem")
    assert principal_of(load_pem_file(tmp_path / "k.pem")) == principal_of(identity)


def test_secp256k1_signatures_verify_and_are_low_s() -> None:
    key = ec.generate_private_key(ec.SECP256K1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    identity = load_pem(pem)
    for i in range(20):
        msg = f"message {i}".encode()
        der, sig = identity.sign(msg)
        assert der is not None and sig is not None and len(sig) == 64
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        assert s <= SECP256K1_ORDER // 2
        key.public_key().verify(encode_dss_signature(r, s), msg, ec.ECDSA(hashes.SHA256()))


def test_nacl_and_icp_py_core_ed25519_signatures_are_identical() -> None:
    ours, theirs = Ed25519Identity(SEED), Identity(privkey=SEED.hex())
    assert ours.sender().to_str() == theirs.sender().to_str()
    for msg in (b"", b"\x0aic-request" + b"\x00" * 32, b"x" * 1000):
        der_a, sig_a = ours.sign(msg)
        der_b, sig_b = theirs.sign(msg)
        assert (der_a, sig_a) == (der_b, sig_b)
        VerifyKey(der_a[-32:]).verify(msg, sig_a)  # type: ignore[index]


def test_garbage_pem_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a supported identity PEM"):
        load_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
