"""Certificates signed by the emulator's root key (IC interface spec, "Certification").

The emulator plays the root subnet, so certificates carry no ``delegation`` and are verified by
agents directly against the ``root_key`` of ``/api/v2/status``. Signatures follow the IC's BLS
variant: 48-byte G1 signatures, 96-byte compressed G2 public keys, hash-to-G1 with the
``BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_`` ciphersuite; pyblst provides the curve arithmetic.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Final

import cbor2
import pyblst

from emulator.principal import Principal
from emulator.protocol.cbor_codec import SELF_DESCRIBE_TAG
from emulator.protocol.hashtree import HashTree, digest, to_cbor_value

BLS_DST: Final = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
"""Spec, "Certification": the ciphersuite (domain separation tag) of hash-to-G1."""

STATE_ROOT_DOMAIN: Final = b"\x0dic-state-root"
"""Spec, "Certification": the signed message is this separator followed by the root hash."""

BLS_DER_PREFIX: Final = bytes.fromhex(
    "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100"
)
"""DER SubjectPublicKeyInfo prefix of an IC BLS12-381 G2 key (agents check prefix and length)."""

BLS12_381_ORDER: Final = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
"""Order r of the BLS12-381 groups; secret keys are scalars in [1, r)."""

G2_GENERATOR: Final = bytes.fromhex(
    "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
    "024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
)
"""Compressed standard G2 generator; pyblst has no generator constructor, so it is spelled out."""

SECRET_KEY_LENGTH: Final = 32
PUBLIC_KEY_LENGTH: Final = 96
SIGNATURE_LENGTH: Final = 48


@dataclass(frozen=True, slots=True)
class RootKey:
    """The root (= subnet) threshold key, reduced to one BLS secret since we are a single node."""

    secret: bytes = field(repr=False)
    _public_key: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.secret) != SECRET_KEY_LENGTH:
            raise ValueError("a BLS secret key is a 32-byte big-endian scalar")
        if not 0 < int.from_bytes(self.secret, "big") < BLS12_381_ORDER:
            raise ValueError("a BLS secret key must lie in [1, r)")
        # Deriving the key costs a scalar multiplication; do it once per key, not per /status.
        point = pyblst.BlstP2Element.uncompress(G2_GENERATOR).scalar_mul(self._scalar)
        object.__setattr__(self, "_public_key", bytes(point.compress()))

    @property
    def _scalar(self) -> int:
        return int.from_bytes(self.secret, "big")

    @classmethod
    def generate(cls) -> RootKey:
        scalar = 1 + secrets.randbelow(BLS12_381_ORDER - 1)
        return cls(scalar.to_bytes(SECRET_KEY_LENGTH, "big"))

    @property
    def public_key(self) -> bytes:
        """96-byte compressed G2 point."""
        return self._public_key

    @property
    def der(self) -> bytes:
        """133-byte DER form served as ``root_key`` and as ``/subnet/<sid>/public_key``."""
        return BLS_DER_PREFIX + self._public_key

    @property
    def subnet_id(self) -> Principal:
        """Agents derive the subnet id of a delegation-free certificate this way (spec)."""
        return Principal.self_authenticating(self.der)

    def sign(self, message: bytes) -> bytes:
        """48-byte compressed G1 signature ``sk · hash_to_G1(message)``."""
        point = pyblst.BlstP1Element.hash_to_group(message, BLS_DST).scalar_mul(self._scalar)
        return bytes(point.compress())


def make_certificate(tree: HashTree, key: RootKey) -> bytes:
    """CBOR ``55799({tree, signature})`` over ``"\\x0dic-state-root" ‖ root_hash``."""
    signature = key.sign(STATE_ROOT_DOMAIN + digest(tree))
    encoded: bytes = cbor2.dumps(
        cbor2.CBORTag(SELF_DESCRIBE_TAG, {"tree": to_cbor_value(tree), "signature": signature})
    )
    return encoded
