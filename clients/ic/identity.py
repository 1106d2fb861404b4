"""Identities: load dfx PEM files, generate and persist keys, and the anonymous caller.

Parsing PEM is left to icp-py-core's ``Identity.from_pem`` because it accepts every form dfx has
written: Ed25519 PKCS#8 v1, v2 and dfx's legacy v1-with-public-key (which ``cryptography``
refuses with "extra data"), secp256k1 SEC1 ``EC PRIVATE KEY`` (with or without an ``EC PARAMETERS``
block) and secp256k1 PKCS#8.

icp-py-core signs Ed25519 with the pure-Python ``ecdsa`` package (~0.45 ms per signature, a real
cost in load tests). Ed25519 is deterministic, so ``Ed25519Identity`` below signs the same bytes
with PyNaCl (~0.02 ms) and is what ``generate_ed25519`` and ``load_pem`` return for Ed25519 keys.
secp256k1 keeps icp-py-core's signer, which already emits the low-S signatures the IC requires.

Every identity here satisfies ``SigningIdentity``: the two methods the envelope code calls.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from icp_identity import Identity
from icp_principal import Principal
from nacl.signing import SigningKey

__all__ = [
    "ED25519_DER_PREFIX",
    "Ed25519Identity",
    "SigningIdentity",
    "anonymous_identity",
    "generate_ed25519",
    "identity_to_pem",
    "is_anonymous",
    "load_pem",
    "load_pem_file",
    "principal_of",
    "save_pem",
]

ED25519_DER_PREFIX = bytes.fromhex("302a300506032b6570032100")
_ANONYMOUS_PRINCIPAL = b"\x04"


class SigningIdentity(Protocol):
    """What envelope signing needs from an identity (icp-py-core's duck type).

    ``sign`` returns ``(der_public_key, signature)``, or ``(None, None)`` for the anonymous caller.
    ``sender`` returns an ``icp_principal.Principal``.
    """

    def sign(self, msg: bytes) -> tuple[bytes | None, bytes | None]: ...

    def sender(self) -> Any: ...


class Ed25519Identity:
    """An Ed25519 key signing with PyNaCl; byte-for-byte the signatures icp-py-core would make."""

    __slots__ = ("_der_pubkey", "_principal", "_signing_key")

    key_type = "ed25519"
    anonymous = False

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError(f"an Ed25519 seed is 32 bytes, got {len(seed)}")
        self._signing_key = SigningKey(bytes(seed))
        self._der_pubkey = ED25519_DER_PREFIX + bytes(self._signing_key.verify_key)
        self._principal = Principal.self_authenticating(self._der_pubkey)

    @classmethod
    def generate(cls) -> Ed25519Identity:
        return cls(os.urandom(32))

    @property
    def der_pubkey(self) -> bytes:
        return self._der_pubkey

    def sender(self) -> Any:
        return self._principal

    def sign(self, msg: bytes) -> tuple[bytes | None, bytes | None]:
        return self._der_pubkey, self._signing_key.sign(bytes(msg)).signature

    def to_pem(self) -> str:
        """PKCS#8 v1 PEM, the form ``dfx identity import`` and ``load_pem`` both read."""
        key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(self._signing_key))
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def __repr__(self) -> str:
        return f"Ed25519Identity({self._principal.to_str()})"


def anonymous_identity() -> Any:
    """The anonymous caller (principal ``2vxsx-fae``); its envelopes carry no key or signature."""
    return Identity(anonymous=True)


def generate_ed25519() -> Ed25519Identity:
    return Ed25519Identity.generate()


def load_pem(pem: str | bytes) -> SigningIdentity:
    """Load a dfx identity PEM; Ed25519 keys come back as the fast ``Ed25519Identity``."""
    text = pem.decode("ascii") if isinstance(pem, bytes) else pem
    try:
        loaded = Identity.from_pem(text)
    except Exception as exc:  # ecdsa raises a zoo of types (DER errors, ValueError, ...) for bad input
        raise ValueError(f"not a supported identity PEM: {exc}") from exc
    if loaded.key_type == "ed25519":
        return Ed25519Identity(bytes.fromhex(loaded.privkey))
    identity: SigningIdentity = loaded
    return identity


def load_pem_file(path: str | os.PathLike[str]) -> SigningIdentity:
    return load_pem(Path(path).read_text(encoding="ascii"))


def identity_to_pem(identity: Any) -> str:
    """PEM text for a generated or loaded key (not for the anonymous identity)."""
    if is_anonymous(identity):
        raise ValueError("the anonymous identity has no key to save")
    pem = identity.to_pem()
    return pem.decode("ascii") if isinstance(pem, bytes) else str(pem)


def save_pem(identity: Any, path: str | os.PathLike[str]) -> None:
    """Write the key with mode 0600, atomically, so a crash never leaves a half-written identity."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    pem = identity_to_pem(identity)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(pem)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_anonymous(identity: Any) -> bool:
    return bytes(identity.sender().bytes) == _ANONYMOUS_PRINCIPAL


def principal_of(identity: Any) -> str:
    """Textual principal of an identity, e.g. ``2vxsx-fae`` for the anonymous one."""
    return str(identity.sender().to_str())
