"""Ingress expiry, signatures (Ed25519, secp256k1, P-256) and delegation chains."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from emulator.principal import Principal
from emulator.protocol.auth import (
    MAX_INGRESS_TTL_NS,
    PERMITTED_DRIFT_NS,
    authenticate,
    authorized_canisters,
    check_delegation_targets,
    check_ingress_expiry,
    format_ic_time,
    verify_signature,
)
from emulator.protocol.envelope import Envelope, parse_envelope
from emulator.protocol.errors import ProtocolError
from emulator.protocol.request_id import request_id
from tests.protocol.helpers import (
    NOW,
    RRKAH,
    V2_IDENTITY,
    EcdsaIdentity,
    Ed25519Identity,
    Identity,
    Link,
    call_content,
    query_content,
    read_state_content,
    signed_envelope,
)

ANON = Principal.anonymous()
OTHER_CANISTER = Principal.from_text("ryjl3-tyaaa-aaaaa-aaaba-cai")
WINDOW_END = NOW + MAX_INGRESS_TTL_NS + PERMITTED_DRIFT_NS


def assert_error(exc: pytest.ExceptionInfo[ProtocolError], status: int, message: str) -> None:
    assert (exc.value.http_status, exc.value.message) == (status, message)


# --- time formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01 00:00:00 UTC"),
        (1_746_143_718_005_285_297, "2025-05-01 23:55:18.005285297 UTC"),
        (1_746_102_280_000_000_000, "2025-05-01 12:24:40 UTC"),
        (1_652_198_429_709_000_000, "2022-05-10 16:00:29.709 UTC"),
        (1_652_198_429_709_100_000, "2022-05-10 16:00:29.709100 UTC"),
        (1_652_198_429_000_000_001, "2022-05-10 16:00:29.000000001 UTC"),
    ],
)
def test_format_ic_time_matches_chrono(ns: int, text: str) -> None:
    assert format_ic_time(ns) == text


# --- ingress expiry --------------------------------------------------------------------------------


def expiry_text(provided: int) -> str:
    return (
        "Invalid request expiry: Specified ingress_expiry not within expected range: "
        "Minimum allowed expiry: 2023-11-14 22:13:20 UTC, "
        "Maximum allowed expiry: 2023-11-14 22:18:50 UTC, "
        f"Provided expiry: {format_ic_time(provided)}"
    )


def signed_call(expiry: int) -> Envelope:
    return parse_envelope(
        signed_envelope(call_content(V2_IDENTITY.principal, ingress_expiry=expiry), V2_IDENTITY), "call"
    )


@pytest.mark.parametrize("expiry", [NOW, NOW + 1, NOW + 240 * 10**9, WINDOW_END])
def test_expiry_inside_window(expiry: int) -> None:
    check_ingress_expiry(signed_call(expiry), NOW)


@pytest.mark.parametrize(
    ("expiry", "provided_text"),
    [
        (NOW - 1, "2023-11-14 22:13:19.999999999 UTC"),
        (NOW - 3600 * 10**9, "2023-11-14 21:13:20 UTC"),
        (WINDOW_END + 1, "2023-11-14 22:18:50.000000001 UTC"),
        (NOW + 3600 * 10**9, "2023-11-14 23:13:20 UTC"),
    ],
)
def test_expiry_outside_window(expiry: int, provided_text: str) -> None:
    with pytest.raises(ProtocolError) as info:
        check_ingress_expiry(signed_call(expiry), NOW)
    assert_error(info, 400, expiry_text(expiry))
    assert info.value.message.endswith(f"Provided expiry: {provided_text}")
    assert info.value.message.startswith("Invalid request expiry: ")  # what agent-js matches on


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("query", signed_envelope(query_content(ANON, ingress_expiry=1), None)),
        ("read_state", signed_envelope(read_state_content(ANON, [[b"time"]], ingress_expiry=1), None)),
    ],
)
def test_anonymous_query_and_read_state_are_exempt(kind: str, body: bytes) -> None:
    env = parse_envelope(body, kind)  # type: ignore[call-overload]
    check_ingress_expiry(env, NOW)


def test_anonymous_call_is_not_exempt() -> None:
    env = parse_envelope(signed_envelope(call_content(ANON, ingress_expiry=1), None), "call")
    with pytest.raises(ProtocolError) as info:
        check_ingress_expiry(env, NOW)
    assert_error(info, 400, expiry_text(1))


@pytest.mark.parametrize("kind", ["query", "read_state"])
def test_signed_query_and_read_state_are_checked(kind: str) -> None:
    content = (
        query_content(V2_IDENTITY.principal, ingress_expiry=1)
        if kind == "query"
        else read_state_content(V2_IDENTITY.principal, [[b"time"]], ingress_expiry=1)
    )
    env = parse_envelope(signed_envelope(content, V2_IDENTITY), kind)  # type: ignore[call-overload]
    with pytest.raises(ProtocolError):
        check_ingress_expiry(env, NOW)


# --- plain signatures ------------------------------------------------------------------------------

IDENTITIES: list[tuple[str, Identity]] = [
    ("ed25519", Ed25519Identity(b"\x11" * 32)),
    ("secp256k1-low-s", EcdsaIdentity(ec.SECP256K1(), seed=12345)),
    ("p256-low-s", EcdsaIdentity(ec.SECP256R1(), seed=23456)),
    ("p256-high-s", EcdsaIdentity(ec.SECP256R1(), seed=34567, s_form="high")),
]


@pytest.mark.parametrize(("name", "identity"), IDENTITIES, ids=[i[0] for i in IDENTITIES])
@pytest.mark.parametrize("kind", ["call", "query", "read_state"])
def test_valid_signatures_authenticate(name: str, identity: Identity, kind: str) -> None:
    sender = identity.principal
    content = {
        "call": call_content(sender, nonce=b"\x05" * 16),
        "query": query_content(sender),
        "read_state": read_state_content(sender, [[b"time"]]),
    }[kind]
    env = parse_envelope(signed_envelope(content, identity), kind)  # type: ignore[call-overload]
    authenticate(env, NOW)
    assert env.sender_sig is not None and env.sender_pubkey is not None
    assert verify_signature(env.sender_pubkey, b"\x0aic-request" + env.request_id, env.sender_sig)


def test_der_keys_have_the_documented_prefixes() -> None:
    assert IDENTITIES[0][1].der.hex().startswith("302a300506032b6570032100")
    assert IDENTITIES[1][1].der.hex().startswith("3056301006072a8648ce3d020106052b8104000a034200")
    assert IDENTITIES[2][1].der.hex().startswith("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def with_sig(env: Envelope, sig: bytes) -> Envelope:
    return dataclasses.replace(env, sender_sig=sig)


def signed(identity: Identity, **overrides: object) -> Envelope:
    content = call_content(identity.principal, **overrides)
    return parse_envelope(signed_envelope(content, identity), "call")


def test_bad_ed25519_signature() -> None:
    identity = Ed25519Identity(b"\x11" * 32)
    env = signed(identity)
    assert env.sender_sig is not None
    bad = bytes([env.sender_sig[0] ^ 1]) + env.sender_sig[1:]
    with pytest.raises(ProtocolError) as info:
        authenticate(with_sig(env, bad), NOW)
    assert_error(
        info,
        400,
        "Invalid signature: Invalid basic signature: Ed25519 signature could not be verified: "
        f"public key {identity.der[-32:].hex()}, signature {bad.hex()}, error: A signature was invalid",
    )


def test_signature_of_other_content() -> None:
    identity = Ed25519Identity(b"\x11" * 32)
    other = signed(identity, nonce=b"\x01")
    env = signed(identity)
    assert other.sender_sig is not None
    with pytest.raises(ProtocolError) as info:
        authenticate(with_sig(env, other.sender_sig), NOW)
    assert info.value.message.startswith("Invalid signature: Invalid basic signature: Ed25519 signature")


@pytest.mark.parametrize(
    ("identity", "algorithm"),
    [
        (EcdsaIdentity(ec.SECP256K1(), seed=777), "EcdsaSecp256k1"),
        (EcdsaIdentity(ec.SECP256R1(), seed=778), "EcdsaP256"),
    ],
)
def test_bad_ecdsa_signature(identity: EcdsaIdentity, algorithm: str) -> None:
    env = signed(identity)
    assert env.sender_sig is not None
    bad = env.sender_sig[:32] + (int.from_bytes(env.sender_sig[32:], "big") - 1).to_bytes(32, "big")
    with pytest.raises(ProtocolError) as info:
        authenticate(with_sig(env, bad), NOW)
    point = identity.der[-65:]
    assert_error(
        info,
        400,
        f"Invalid signature: Invalid basic signature: {algorithm} signature could not be verified: "
        f"public key {point.hex()}, signature {bad.hex()}, error: verification failed",
    )


def test_high_s_secp256k1_is_refused() -> None:
    identity = EcdsaIdentity(ec.SECP256K1(), seed=4242, s_form="high")
    env = signed(identity)
    assert env.sender_sig is not None
    with pytest.raises(ProtocolError) as info:
        authenticate(env, NOW)
    assert_error(
        info,
        400,
        "Invalid signature: Invalid basic signature: EcdsaSecp256k1 signature could not be verified: "
        f"public key {identity.der[-65:].hex()}, signature {env.sender_sig.hex()}, "
        "error: signature is not in low-S form (s > n/2)",
    )
    # the very same key with the low-S twin of the signature is fine
    identity.s_form = "low"
    authenticate(signed(identity), NOW)


@pytest.mark.parametrize("length", [0, 63, 65])
def test_signature_of_wrong_length(length: int) -> None:
    identity = Ed25519Identity(b"\x11" * 32)
    bad = b"\x00" * length
    with pytest.raises(ProtocolError) as info:
        authenticate(with_sig(signed(identity), bad), NOW)
    assert_error(
        info,
        400,
        f"Invalid signature: Invalid basic signature: Malformed Ed25519 signature: [{bad.hex()}] "
        f"error: 'expected 64 bytes, got {length}'",
    )


def test_sender_not_matching_key() -> None:
    identity = Ed25519Identity(b"\x11" * 32)
    content = call_content(V2_IDENTITY.principal)
    env = parse_envelope(signed_envelope(content, identity), "call")
    with pytest.raises(ProtocolError) as info:
        authenticate(env, NOW)
    assert_error(
        info,
        400,
        f"The user id '{V2_IDENTITY.principal.to_text()}' "
        f"does not match the public key '{identity.der.hex()}'",
    )


class RawKeyIdentity(Identity):
    """Whatever DER we want as sender_pubkey, with a junk signature."""

    def __init__(self, der: bytes) -> None:
        self.der = der

    def sign(self, message: bytes) -> bytes:
        return b"\x01" * 64


RSA_DER = (
    rsa.generate_private_key(public_exponent=65537, key_size=1024)
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
)
BLS_ROOT_KEY_DER = (
    bytes.fromhex("308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100") + b"\x01" * 96
)


def der_tlv(tag: int, value: bytes) -> bytes:
    assert len(value) < 128
    return bytes([tag, len(value)]) + value


CANISTER_SIG_DER = der_tlv(
    0x30,
    der_tlv(0x30, der_tlv(0x06, bytes.fromhex("2b0601040183b8430102")))
    + der_tlv(0x03, b"\x00" + b"\x0a" + b"\x00" * 10 + b"\x01" * 4),
)


@pytest.mark.parametrize(
    ("name", "der", "detail"),
    [
        (
            "rsa",
            RSA_DER,
            "Invalid public key: Algorithm RsaSha256 not supported: "
            "the emulator verifies Ed25519, ECDSA secp256k1 and ECDSA P-256 only",
        ),
        (
            "canister signature",
            CANISTER_SIG_DER,
            "Invalid public key: Algorithm IcCanisterSignature not supported: "
            "the emulator verifies Ed25519, ECDSA secp256k1 and ECDSA P-256 only",
        ),
        (
            "bls (unknown oid)",
            BLS_ROOT_KEY_DER,
            f"Invalid public key: Malformed Unspecified public key: {BLS_ROOT_KEY_DER.hex()}, "
            "error: Unsupported or unparsable public key",
        ),
        (
            "truncated der",
            V2_IDENTITY.der[:-1],
            f"Invalid public key: Malformed Unspecified public key: {V2_IDENTITY.der[:-1].hex()}, "
            "error: truncated DER element",
        ),
        (
            "trailing der",
            V2_IDENTITY.der + b"\x00",
            f"Invalid public key: Malformed Unspecified public key: {V2_IDENTITY.der.hex()}00, "
            "error: expected a single DER SEQUENCE",
        ),
        (
            "not der",
            b"\x04" + b"\x00" * 64,
            f"Invalid public key: Malformed Unspecified public key: 04{'00' * 64}, "
            "error: expected a single DER SEQUENCE",
        ),
        (
            "ed25519 key of 31 bytes",
            bytes.fromhex("3029300506032b6570032000") + b"\x02" * 31,
            f"Invalid public key: Malformed Ed25519 public key: {'02' * 31}, error: expected 32 bytes",
        ),
        (
            "secp256k1 point not on curve",
            bytes.fromhex("3056301006072a8648ce3d020106052b8104000a034200") + b"\x04" + b"\x01" * 64,
            "Invalid public key: Malformed EcdsaSecp256k1 public key: 04"
            + "01" * 64
            + ", error: Invalid EC key.",
        ),
    ],
)
def test_unsupported_or_malformed_sender_keys(name: str, der: bytes, detail: str) -> None:
    identity = RawKeyIdentity(der)
    env = parse_envelope(signed_envelope(call_content(identity.principal), identity), "call")
    with pytest.raises(ProtocolError) as info:
        authenticate(env, NOW)
    assert_error(info, 400, f"Invalid signature: {detail}")
    assert not verify_signature(der, b"msg", b"\x01" * 64)


# --- delegations -----------------------------------------------------------------------------------

ROOT = Ed25519Identity(b"\x21" * 32)
MIDDLE = EcdsaIdentity(ec.SECP256K1(), seed=99)
SESSION = EcdsaIdentity(ec.SECP256R1(), seed=98)
LATER = NOW + 3600 * 10**9


def delegated(chain: list[Link], *, kind: str = "call", content: dict[str, object] | None = None) -> Envelope:
    if content is None:
        content = (
            call_content(ROOT.principal)
            if kind == "call"
            else read_state_content(ROOT.principal, [[b"time"]])
        )
    return parse_envelope(signed_envelope(content, ROOT, chain), kind)  # type: ignore[call-overload,no-any-return]


def test_two_delegation_chain_with_targets() -> None:
    env = delegated([Link(MIDDLE, LATER, [RRKAH, OTHER_CANISTER]), Link(SESSION, LATER, [RRKAH])])
    assert env.sender == ROOT.principal and len(env.delegations) == 2
    authenticate(env, NOW)
    assert authorized_canisters(env) == frozenset({RRKAH})
    check_delegation_targets(env, RRKAH)
    with pytest.raises(ProtocolError) as info:
        check_delegation_targets(env, OTHER_CANISTER)
    assert_error(info, 400, f"Canister '{OTHER_CANISTER.to_text()}' is not one of the delegation targets.")


def test_delegations_without_targets_allow_everything() -> None:
    env = delegated([Link(MIDDLE, LATER), Link(SESSION, LATER)])
    authenticate(env, NOW)
    assert authorized_canisters(env) is None
    check_delegation_targets(env, OTHER_CANISTER)


def test_no_delegation_allows_everything() -> None:
    env = signed(Ed25519Identity(b"\x11" * 32))
    assert authorized_canisters(env) is None
    check_delegation_targets(env, OTHER_CANISTER)


def test_disjoint_targets_allow_nothing() -> None:
    env = delegated([Link(MIDDLE, LATER, [OTHER_CANISTER]), Link(SESSION, LATER, [RRKAH])])
    authenticate(env, NOW)
    assert authorized_canisters(env) == frozenset()
    with pytest.raises(ProtocolError):
        check_delegation_targets(env, RRKAH)


def test_expired_delegation() -> None:
    env = delegated([Link(MIDDLE, LATER), Link(SESSION, NOW - 1)])
    with pytest.raises(ProtocolError) as info:
        authenticate(env, NOW)
    assert_error(
        info,
        400,
        "Invalid delegation expiry: Specified sender delegation has expired:\n"
        "Provided expiry:    2023-11-14 22:13:19.999999999 UTC\n"
        "Local replica time: 2023-11-14 22:13:20 UTC",
    )
    assert "expired" in info.value.message and info.value.message.startswith("Invalid delegation")
    authenticate(env, NOW - 1)  # still valid at its own expiration instant


def test_delegation_cycle() -> None:
    env = delegated([Link(MIDDLE, LATER), Link(ROOT, LATER)])
    with pytest.raises(ProtocolError) as info:
        authenticate(env, NOW)
    assert_error(
        info,
        400,
        "Invalid delegation: Chain of delegations contains at least one cycle: "
        f"first repeating public key encountered {ROOT.der.hex()}",
    )


def test_delegation_signed_by_the_wrong_key() -> None:
    intruder = Ed25519Identity(b"\x66" * 32)
    env = delegated([Link(MIDDLE, LATER), Link(SESSION, LATER, signer=intruder)])
    with pytest.raises(ProtocolError) as info:
        authenticate(env, NOW)
    second = env.delegations[1]
    assert_error(
        info,
        400,
        "Invalid delegation: Invalid basic signature: EcdsaSecp256k1 signature could not be verified: "
        f"public key {MIDDLE.der[-65:].hex()}, signature {second.signature.hex()}, "
        "error: verification failed",
    )


def test_request_signed_by_chain_root_instead_of_session() -> None:
    content = call_content(ROOT.principal)
    env = parse_envelope(signed_envelope(content, ROOT, [Link(SESSION, LATER)], sign_with=ROOT), "call")
    with pytest.raises(ProtocolError) as info:
        authenticate(env, NOW)
    assert info.value.message.startswith("Invalid signature: Invalid basic signature: EcdsaP256 signature")


def test_delegation_to_unsupported_key() -> None:
    odd = RawKeyIdentity(RSA_DER)
    env = delegated([Link(odd, LATER), Link(SESSION, LATER)])
    with pytest.raises(ProtocolError) as info:
        authenticate(env, NOW)
    assert_error(
        info,
        400,
        "Invalid delegation: Invalid public key: Algorithm RsaSha256 not supported: "
        "the emulator verifies Ed25519, ECDSA secp256k1 and ECDSA P-256 only",
    )


def test_delegation_hash_covers_unknown_fields() -> None:
    """A delegation map with an extra field (e.g. the old `senders`) is hashed as sent."""
    env = delegated([Link(SESSION, LATER, extra={"senders": [ROOT.principal.raw]})])
    authenticate(env, NOW)
    assert "senders" in env.delegations[0].delegation_map


def test_verify_signature_helper() -> None:
    identity = Ed25519Identity(b"\x31" * 32)
    sig = identity.sign(b"hello")
    assert verify_signature(identity.der, b"hello", sig)
    assert not verify_signature(identity.der, b"hellO", sig)
    assert not verify_signature(identity.der, b"hello", sig[:-1])
    assert not verify_signature(b"garbage", b"hello", sig)


def test_request_id_is_what_gets_signed() -> None:
    identity = Ed25519Identity(b"\x41" * 32)
    content = call_content(identity.principal)
    env = parse_envelope(signed_envelope(content, identity), "call")
    assert env.request_id == request_id(content)
    assert env.sender_sig == identity.sign(b"\x0aic-request" + request_id(content))
