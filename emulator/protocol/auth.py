"""Request authentication: ingress expiry, sender signatures and delegation chains.

Follows the IC interface spec ("Authentication", "Request expiry") and the replica's ingress
validator, including its error texts, so agents see the same 400 bodies as against a replica.
Time is always passed in (``now_ns``); nothing here reads a clock.

Failure texts (all HTTP 400; ``<t>`` is a replica-formatted UTC time, see ``format_ic_time``;
``<P>`` is ``Invalid signature`` for the key that signs the request and ``Invalid delegation``
for a key that signs a delegation):

======================================  ==================================================================
failure                                 text
======================================  ==================================================================
expiry outside the window               ``Invalid request expiry: Specified ingress_expiry not within
                                        expected range: Minimum allowed expiry: <t>, Maximum allowed
                                        expiry: <t>, Provided expiry: <t>``
sender ≠ self-auth id of sender_pubkey  ``The user id '<principal>' does not match the public key
                                        '<der hex>'``
delegation expired                      ``Invalid delegation expiry: Specified sender delegation has
                                        expired:\\nProvided expiry:    <t>\\nLocal replica time: <t>``
public key repeated in the chain        ``Invalid delegation: Chain of delegations contains at least one
                                        cycle: first repeating public key encountered <der hex>``
DER not parseable                       ``<P>: Invalid public key: Malformed Unspecified public key:
                                        <der hex>, error: <DER problem>``
unknown key algorithm                   ``<P>: Invalid public key: Malformed Unspecified public key:
                                        <der hex>, error: Unsupported or unparsable public key``
known but unsupported (WebAuthn,        ``<P>: Invalid public key: Algorithm <name> not supported: the
canister signature, RSA)                emulator verifies Ed25519, ECDSA secp256k1 and ECDSA P-256 only``
bad key bytes for a known algorithm     ``<P>: Invalid public key: Malformed <Alg> public key: <key hex>,
                                        error: <problem>``
signature of the wrong length           ``<P>: Invalid basic signature: Malformed <Alg> signature: [<sig
                                        hex>] error: 'expected 64 bytes, got <n>'``
Ed25519 signature wrong                 ``<P>: Invalid basic signature: Ed25519 signature could not be
                                        verified: public key <raw hex>, signature <hex>, error: A
                                        signature was invalid``
ECDSA signature wrong                   ``<P>: Invalid basic signature: <EcdsaSecp256k1|EcdsaP256>
                                        signature could not be verified: public key <sec1 hex>,
                                        signature <hex>, error: verification failed``
secp256k1 signature with high S         same as above with ``error: signature is not in low-S form
                                        (s > n/2)``
canister not in delegation targets      ``Canister '<principal>' is not one of the delegation targets.``
======================================  ==================================================================

``<Alg>`` is ``Ed25519``, ``EcdsaSecp256k1`` or ``EcdsaP256`` (the replica's ``AlgorithmId`` names).
The high-S text is ours: the replica reports high-S secp256k1 signatures as a plain verification
failure. P-256 signatures are accepted with either S, like the replica (``ic_secp256r1`` documents
that it does not normalize S, since WebAuthn authenticators do not).
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from emulator.principal import Principal
from emulator.protocol.envelope import Envelope
from emulator.protocol.errors import ProtocolError
from emulator.protocol.request_id import representation_independent_hash

NANOS_PER_SECOND: Final = 1_000_000_000

MAX_INGRESS_TTL_NS: Final = 5 * 60 * NANOS_PER_SECOND
"""Spec, "Request expiry": ``ingress_expiry`` may lie at most 5 minutes in the future."""

PERMITTED_DRIFT_NS: Final = 30 * NANOS_PER_SECOND
"""Clock drift the replica's validator tolerates on top of ``MAX_INGRESS_TTL`` (spec, "Request
expiry": the IC may accept a slightly later expiry to allow for drift; the replica uses 30 s)."""

IC_REQUEST_DOMAIN: Final = b"\x0aic-request"
"""Spec, "Authentication": domain separator of the request signature."""

IC_DELEGATION_DOMAIN: Final = b"\x1aic-request-auth-delegation"
"""Spec, "Authentication": domain separator of delegation signatures."""

SECP256K1_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Group order n of secp256k1 (SEC 2), for the low-S rule."""

SIGNATURE_LENGTH: Final = 64


def format_ic_time(ns: int) -> str:
    """Render a nanosecond timestamp like the replica's ``Time`` display (chrono's UTC format).

    chrono prints no fraction for whole seconds and otherwise 3, 6 or 9 digits, whichever is
    exact; agents only show this text, but matching it keeps error messages comparable.
    """
    seconds, nanos = divmod(ns, NANOS_PER_SECOND)
    moment = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(seconds=seconds)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if nanos == 0:
        fraction = ""
    elif nanos % 1_000_000 == 0:
        fraction = f".{nanos // 1_000_000:03d}"
    elif nanos % 1_000 == 0:
        fraction = f".{nanos // 1_000:06d}"
    else:
        fraction = f".{nanos:09d}"
    return f"{text}{fraction} UTC"


def check_ingress_expiry(env: Envelope, now_ns: int) -> None:
    """Enforce ``now ≤ ingress_expiry ≤ now + 5 min + 30 s``.

    Skipped for anonymous queries and anonymous read_state requests, as the spec allows and the
    replica does: agent-js' time synchronisation issues anonymous ``/time`` reads precisely when
    its clock is off, so checking them would make a skewed client unrecoverable.
    """
    if env.is_anonymous and env.request_type in ("query", "read_state"):
        return
    minimum = now_ns
    maximum = now_ns + MAX_INGRESS_TTL_NS + PERMITTED_DRIFT_NS
    if not minimum <= env.ingress_expiry <= maximum:
        raise ProtocolError(
            400,
            "Invalid request expiry: Specified ingress_expiry not within expected range: "
            f"Minimum allowed expiry: {format_ic_time(minimum)}, "
            f"Maximum allowed expiry: {format_ic_time(maximum)}, "
            f"Provided expiry: {format_ic_time(env.ingress_expiry)}",
        )


# --- public keys -------------------------------------------------------------------------------

_OID_ED25519: Final = bytes.fromhex("2b6570")  # 1.3.101.112
_OID_EC_PUBLIC_KEY: Final = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
_OID_SECP256K1: Final = bytes.fromhex("2b8104000a")  # 1.3.132.0.10
_OID_P256: Final = bytes.fromhex("2a8648ce3d030107")  # 1.2.840.10045.3.1.7
_UNSUPPORTED_OIDS: Final = {
    bytes.fromhex("2b0601040183b8430101"): "WebAuthn (COSE)",  # 1.3.6.1.4.1.56387.1.1
    bytes.fromhex("2b0601040183b8430102"): "IcCanisterSignature",  # 1.3.6.1.4.1.56387.1.2
    bytes.fromhex("2a864886f70d010101"): "RsaSha256",  # 1.2.840.113549.1.1.1
}
_SUPPORTED_NOTE: Final = "the emulator verifies Ed25519, ECDSA secp256k1 and ECDSA P-256 only"


class _KeyError(Exception):
    """A key or signature problem; ``text`` is the replica-style detail without the ``<P>:`` prefix."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _DerError(Exception):
    pass


def _read_tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """Read one DER TLV; only definite, minimally encoded lengths are valid DER."""
    if pos + 2 > len(data):
        raise _DerError("truncated DER element")
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 2 or pos + count > len(data):
            raise _DerError("unsupported DER length encoding")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
        if length < 0x80 or (count == 2 and length < 0x100):
            raise _DerError("non-minimal DER length")
    end = pos + length
    if end > len(data):
        raise _DerError("truncated DER element")
    return tag, data[pos:end], end


def _parse_spki(der: bytes) -> tuple[bytes, bytes | None, bytes]:
    """Split a SubjectPublicKeyInfo into (algorithm OID, parameter OID or None, key bytes)."""
    tag, spki, end = _read_tlv(der, 0)
    if tag != 0x30 or end != len(der):
        raise _DerError("expected a single DER SEQUENCE")
    tag, alg, pos = _read_tlv(spki, 0)
    if tag != 0x30:
        raise _DerError("expected an AlgorithmIdentifier SEQUENCE")
    tag, bits, end = _read_tlv(spki, pos)
    if tag != 0x03 or end != len(spki):
        raise _DerError("expected a BIT STRING after the AlgorithmIdentifier")
    if not bits or bits[0] != 0:
        raise _DerError("public key BIT STRING has unused bits")
    tag, oid, pos = _read_tlv(alg, 0)
    if tag != 0x06:
        raise _DerError("expected an algorithm OBJECT IDENTIFIER")
    param: bytes | None = None
    if pos < len(alg):
        tag, value, pos = _read_tlv(alg, pos)
        if tag == 0x06:
            param = value
        elif not (tag == 0x05 and value == b""):
            raise _DerError("unexpected algorithm parameters")
        if pos != len(alg):
            raise _DerError("trailing data in AlgorithmIdentifier")
    return oid, param, bits[1:]


@dataclass(frozen=True, slots=True)
class _PublicKey:
    algorithm: str  # replica AlgorithmId name: Ed25519 | EcdsaSecp256k1 | EcdsaP256
    raw: bytes  # Ed25519: 32 bytes; ECDSA: uncompressed SEC1 point (what the replica prints)
    verify: Callable[[bytes, bytes], None]  # raises _KeyError


def _ed25519_key(key: bytes) -> _PublicKey:
    if len(key) != 32:
        raise _KeyError(
            f"Invalid public key: Malformed Ed25519 public key: {key.hex()}, error: expected 32 bytes"
        )
    verifier = nacl.signing.VerifyKey(key)

    def verify(message: bytes, signature: bytes) -> None:
        _check_length("Ed25519", signature)
        try:
            verifier.verify(message, signature)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError) as exc:
            raise _KeyError(_failed("Ed25519", key, signature, "A signature was invalid")) from exc

    return _PublicKey("Ed25519", key, verify)


def _ecdsa_key(algorithm: str, curve: ec.EllipticCurve, point: bytes, low_s_order: int | None) -> _PublicKey:
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError as exc:
        raise _KeyError(
            f"Invalid public key: Malformed {algorithm} public key: {point.hex()}, error: {exc}"
        ) from exc
    raw = public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def verify(message: bytes, signature: bytes) -> None:
        _check_length(algorithm, signature)
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        try:
            public.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError) as exc:
            raise _KeyError(_failed(algorithm, raw, signature, "verification failed")) from exc
        # Checked after verification so that only a genuine signature in the wrong form gets the
        # more specific text; OpenSSL itself accepts both S values.
        if low_s_order is not None and s > low_s_order // 2:
            raise _KeyError(_failed(algorithm, raw, signature, "signature is not in low-S form (s > n/2)"))

    return _PublicKey(algorithm, raw, verify)


def _check_length(algorithm: str, signature: bytes) -> None:
    if len(signature) != SIGNATURE_LENGTH:
        raise _KeyError(
            f"Invalid basic signature: Malformed {algorithm} signature: [{signature.hex()}] "
            f"error: 'expected {SIGNATURE_LENGTH} bytes, got {len(signature)}'"
        )


def _failed(algorithm: str, raw_key: bytes, signature: bytes, reason: str) -> str:
    return (
        f"Invalid basic signature: {algorithm} signature could not be verified: "
        f"public key {raw_key.hex()}, signature {signature.hex()}, error: {reason}"
    )


@functools.lru_cache(maxsize=1024)
def _parse_public_key(der: bytes) -> _PublicKey:
    """Parsed keys are cached: a client signs every message with the same key, and parsing the DER and
    building the verifier is a third of the cost of an Ed25519 check. A key that fails to parse
    raises, and exceptions are never cached, so a bad key gets its error every time."""
    try:
        oid, param, key = _parse_spki(der)
    except _DerError as exc:
        raise _KeyError(
            f"Invalid public key: Malformed Unspecified public key: {der.hex()}, error: {exc}"
        ) from exc
    if oid == _OID_ED25519 and param is None:
        return _ed25519_key(key)
    if oid == _OID_EC_PUBLIC_KEY and param == _OID_SECP256K1:
        return _ecdsa_key("EcdsaSecp256k1", ec.SECP256K1(), key, SECP256K1_ORDER)
    if oid == _OID_EC_PUBLIC_KEY and param == _OID_P256:
        return _ecdsa_key("EcdsaP256", ec.SECP256R1(), key, None)
    if oid in _UNSUPPORTED_OIDS:
        raise _KeyError(
            f"Invalid public key: Algorithm {_UNSUPPORTED_OIDS[oid]} not supported: {_SUPPORTED_NOTE}"
        )
    raise _KeyError(
        f"Invalid public key: Malformed Unspecified public key: {der.hex()}, "
        "error: Unsupported or unparsable public key"
    )


def _verify_or_raise(prefix: str, der_public_key: bytes, message: bytes, signature: bytes) -> None:
    try:
        _parse_public_key(der_public_key).verify(message, signature)
    except _KeyError as exc:
        raise ProtocolError(400, f"{prefix}: {exc.text}") from exc


def verify_signature(der_public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Verify a user signature under a DER public key; unknown or malformed keys verify nothing."""
    try:
        _parse_public_key(der_public_key).verify(message, signature)
    except _KeyError:
        return False
    return True


# --- requests ----------------------------------------------------------------------------------


def authenticate(env: Envelope, now_ns: int) -> None:
    """Check that the envelope was signed by its sender, directly or through a delegation chain.

    Delegation targets are *not* checked here because which canister they must cover depends on
    the endpoint; call ``check_delegation_targets`` for call/query and let
    ``state_tree.authorize_read_state`` handle read_state.
    """
    if env.is_anonymous:
        return  # parse_envelope guarantees an anonymous envelope carries no signature
    pubkey, sig = env.sender_pubkey, env.sender_sig
    if pubkey is None or sig is None:  # pragma: no cover - excluded by Envelope's invariants
        raise ProtocolError(400, f"Missing signature from user: {env.sender.to_text()}")
    if Principal.self_authenticating(pubkey) != env.sender:
        raise ProtocolError(
            400, f"The user id '{env.sender.to_text()}' does not match the public key '{pubkey.hex()}'"
        )

    for delegation in env.delegations:
        if delegation.expiration < now_ns:
            raise ProtocolError(
                400,
                "Invalid delegation expiry: Specified sender delegation has expired:\n"
                f"Provided expiry:    {format_ic_time(delegation.expiration)}\n"
                f"Local replica time: {format_ic_time(now_ns)}",
            )
    seen = {pubkey}
    for delegation in env.delegations:
        if delegation.pubkey in seen:
            raise ProtocolError(
                400,
                "Invalid delegation: Chain of delegations contains at least one cycle: "
                f"first repeating public key encountered {delegation.pubkey.hex()}",
            )
        seen.add(delegation.pubkey)

    signer = pubkey
    for delegation in env.delegations:
        try:
            digest = representation_independent_hash(delegation.delegation_map)
        except ValueError as exc:
            raise ProtocolError(400, f"Invalid delegation: delegation cannot be hashed: {exc}") from exc
        _verify_or_raise("Invalid delegation", signer, IC_DELEGATION_DOMAIN + digest, delegation.signature)
        signer = delegation.pubkey
    _verify_or_raise("Invalid signature", signer, IC_REQUEST_DOMAIN + env.request_id, sig)


def authorized_canisters(env: Envelope) -> frozenset[Principal] | None:
    """The canisters every delegation of the chain allows, or ``None`` if none restricts them."""
    allowed: frozenset[Principal] | None = None
    for delegation in env.delegations:
        if delegation.targets is None:
            continue
        targets = frozenset(delegation.targets)
        allowed = targets if allowed is None else allowed & targets
    return allowed


def check_delegation_targets(env: Envelope, canister_id: Principal) -> None:
    """A delegation with ``targets`` restricts the whole chain to those canisters (spec)."""
    allowed = authorized_canisters(env)
    if allowed is not None and canister_id not in allowed:
        raise ProtocolError(400, f"Canister '{canister_id.to_text()}' is not one of the delegation targets.")
