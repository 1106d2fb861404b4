"""Test-side identities and envelope builders, written independently of the code under test.

They sign the way agents do (agent-js/icp-py-core semantics), using PyNaCl and `cryptography`
directly, so a bug shared with `emulator.protocol.auth` would have to be made twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cbor2
import nacl.signing
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from emulator.principal import Principal
from tests.vectors import ic_http

VECTORS: dict[str, Any] = ic_http()

ED25519_PREFIX = bytes.fromhex("302a300506032b6570032100")
REQUEST_DOMAIN = b"\x0aic-request"
DELEGATION_DOMAIN = b"\x1aic-request-auth-delegation"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

NOW = 1_700_000_000_000_000_000
"""A fixed "now" (2023-11-14 22:13:20 UTC), matching the vectors' ingress_expiry of now + 100 s."""

RRKAH = Principal.from_text("rrkah-fqaaa-aaaaa-aaaaq-cai")


def independent_rih(value: Mapping[str, Any]) -> bytes:
    """A second, deliberately plain implementation of the representation-independent hash."""

    def leb(n: int) -> bytes:
        out = b""
        while True:
            b, n = n & 0x7F, n >> 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out

    def h(v: Any) -> bytes:
        if isinstance(v, bytes):
            return hashlib.sha256(v).digest()
        if isinstance(v, str):
            return hashlib.sha256(v.encode()).digest()
        if isinstance(v, int):
            return hashlib.sha256(leb(v)).digest()
        if isinstance(v, Mapping):
            return independent_rih(v)
        return hashlib.sha256(b"".join(h(x) for x in v)).digest()

    parts = sorted(hashlib.sha256(k.encode()).digest() + h(v) for k, v in value.items())
    return hashlib.sha256(b"".join(parts)).digest()


class Identity:
    der: bytes

    def sign(self, message: bytes) -> bytes:
        raise NotImplementedError

    @property
    def principal(self) -> Principal:
        return Principal.self_authenticating(self.der)


class Ed25519Identity(Identity):
    def __init__(self, seed: bytes) -> None:
        self._key = nacl.signing.SigningKey(seed)
        self.der = ED25519_PREFIX + bytes(self._key.verify_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)


class EcdsaIdentity(Identity):
    """secp256k1 or P-256; `s_form` forces the low or high S of the (r, s) pair."""

    def __init__(self, curve: ec.EllipticCurve, *, s_form: str = "low", seed: int | None = None) -> None:
        self._key = ec.derive_private_key(seed, curve) if seed is not None else ec.generate_private_key(curve)
        self._n = SECP256K1_N if isinstance(curve, ec.SECP256K1) else P256_N
        self.s_form = s_form
        self.der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256())))
        low = min(s, self._n - s)
        s = low if self.s_form == "low" else self._n - low
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


V2_IDENTITY = Ed25519Identity(bytes(range(32)))
V8_SESSION = Ed25519Identity(bytes(range(0x80, 0xA0)))


@dataclass
class Link:
    """One delegation to build: from the previous key to `to`, optionally restricted to `targets`."""

    to: Identity
    expiration: int
    targets: Sequence[Principal] | None = None
    signer: Identity | None = None  # override: who signs it (default: the previous key in the chain)
    extra: dict[str, Any] = field(default_factory=dict)


def delegation_map(link: Link) -> dict[str, Any]:
    d: dict[str, Any] = {"pubkey": link.to.der, "expiration": link.expiration}
    if link.targets is not None:
        d["targets"] = [t.raw for t in link.targets]
    d.update(link.extra)
    return d


def signed_envelope(
    content: Mapping[str, Any],
    identity: Identity | None,
    chain: Sequence[Link] = (),
    *,
    tag: bool = True,
    sign_with: Identity | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """CBOR body as agents send it; `identity=None` gives an anonymous envelope (content only)."""
    envelope: dict[str, Any] = {"content": dict(content)}
    if identity is not None:
        signer: Identity = identity
        delegations = []
        for link in chain:
            dmap = delegation_map(link)
            by = link.signer or signer
            delegations.append(
                {"delegation": dmap, "signature": by.sign(DELEGATION_DOMAIN + independent_rih(dmap))}
            )
            signer = link.to
        final = sign_with or signer
        envelope["sender_pubkey"] = identity.der
        envelope["sender_sig"] = final.sign(REQUEST_DOMAIN + independent_rih(content))
        if delegations:
            envelope["sender_delegation"] = delegations
    if extra:
        envelope.update(extra)
    encoded: bytes = cbor2.dumps(cbor2.CBORTag(55799, envelope) if tag else envelope)
    return encoded


def query_content(sender: Principal, /, **overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "request_type": "query",
        "canister_id": RRKAH.raw,
        "method_name": "greet",
        "arg": bytes.fromhex("4449444c00017105776f726c64"),
        "sender": sender.raw,
        "ingress_expiry": NOW + 100_000_000_000,
    }
    content.update(overrides)
    return {k: v for k, v in content.items() if v is not _DROP}


def call_content(sender: Principal, /, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"request_type": "call", "method_name": "inc", "arg": b"DIDL\x00\x00"}
    fields.update(overrides)
    return query_content(sender, **fields)


def read_state_content(
    sender: Principal, paths: Sequence[Sequence[bytes]], /, **overrides: Any
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "request_type": "read_state",
        "paths": [list(p) for p in paths],
        "sender": sender.raw,
        "ingress_expiry": NOW + 100_000_000_000,
    }
    content.update(overrides)
    return {k: v for k, v in content.items() if v is not _DROP}


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


_DROP: Any = _Drop()
DROP: Any = _DROP
"""Pass as a field override to remove the field from the content."""
