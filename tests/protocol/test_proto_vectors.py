"""Every vector of ic-http-vectors.json (generated with agent-js' own helpers) as a unit test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cbor2
import py_arkworks_bls12381 as ark
import pytest

from emulator.principal import Principal
from emulator.protocol.auth import authenticate, check_delegation_targets, check_ingress_expiry
from emulator.protocol.cbor_codec import encode_response, encode_tagged
from emulator.protocol.certificate import (
    BLS_DER_PREFIX,
    BLS_DST,
    STATE_ROOT_DOMAIN,
    RootKey,
    make_certificate,
)
from emulator.protocol.envelope import parse_envelope
from emulator.protocol.errors import ProtocolError
from emulator.protocol.hashtree import (
    EMPTY_DOMAIN,
    Empty,
    Fork,
    Labeled,
    Leaf,
    Pruned,
    digest,
    from_cbor_value,
    lookup,
    to_cbor_value,
)
from emulator.protocol.node_key import NodeKey, sign_query_response
from emulator.protocol.request_id import representation_independent_hash, request_id, uleb128
from emulator.protocol.state_tree import CanisterState, RequestStatus, call_reply_certificate
from tests.protocol.helpers import (
    NOW,
    RRKAH,
    V2_IDENTITY,
    V8_SESSION,
    VECTORS,
    Link,
    call_content,
    query_content,
    read_state_content,
    signed_envelope,
)

V = VECTORS


def strip_tag(data: bytes) -> Any:
    assert data[:3] == b"\xd9\xd9\xf7"
    return cbor2.loads(data[3:])


# --- V1 ------------------------------------------------------------------------------------------


def test_v1_spec_example_request_id() -> None:
    content = {
        "request_type": "call",
        "sender": b"\x04",
        "ingress_expiry": 1685570400000000000,
        "canister_id": bytes.fromhex("00000000000004d2"),
        "method_name": "hello",
        "arg": bytes.fromhex("4449444c00fd2a"),
    }
    assert request_id(content).hex() == V["V1_spec_call_request_id"]


# --- V2 ------------------------------------------------------------------------------------------


def test_v2_identity() -> None:
    vec = V["V2_identity"]
    assert V2_IDENTITY.der.hex() == vec["der_public_key_hex"]
    assert V2_IDENTITY.der[-32:].hex() == vec["raw_public_key_hex"]
    principal = Principal.self_authenticating(bytes.fromhex(vec["der_public_key_hex"]))
    assert principal.raw.hex() == vec["principal_bytes_hex"]
    assert principal.to_text() == vec["principal_text"]


@pytest.mark.parametrize(
    ("raw_hex", "text"),
    [
        ("04", V["V2_misc_principals"]["anonymous_text"]),
        ("", V["V2_misc_principals"]["management_text"]),
        (
            V["V2_misc_principals"]["rrkah_bytes_hex"],
            V["V2_misc_principals"]["bytes_0000000000000001_0101_text"],
        ),
    ],
)
def test_v2_misc_principals(raw_hex: str, text: str) -> None:
    assert Principal(bytes.fromhex(raw_hex)).to_text() == text
    assert Principal.from_text(text).raw.hex() == raw_hex


# --- V3 ------------------------------------------------------------------------------------------


def test_v3_signed_query_envelope_parses() -> None:
    vec = V["V3_signed_query"]
    env = parse_envelope(bytes.fromhex(vec["envelope_cbor_hex"]), "query")
    assert env.request_type == "query"
    assert env.request_id.hex() == vec["request_id_hex"]
    assert env.sender == V2_IDENTITY.principal
    assert env.canister_id == RRKAH
    assert env.method_name == "greet"
    assert env.arg == bytes.fromhex(vec["arg_hex"])
    assert env.ingress_expiry == 1700000100000000000
    assert env.nonce is None and env.delegations == ()
    assert not hasattr(env, "paths")  # a query envelope has no paths at all
    assert env.sender_pubkey == V2_IDENTITY.der
    assert env.sender_sig is not None and env.sender_sig.hex() == vec["sender_sig_hex"]
    assert not env.is_anonymous


def test_v3_signed_query_authenticates_inside_its_window() -> None:
    vec = V["V3_signed_query"]
    env = parse_envelope(bytes.fromhex(vec["envelope_cbor_hex"]), "query")
    assert (b"\x0aic-request" + env.request_id).hex() == vec["signed_payload_hex"]
    check_ingress_expiry(env, NOW)
    authenticate(env, NOW)
    check_delegation_targets(env, RRKAH)


def test_v3_signed_query_builder_matches_agent_js_bytes() -> None:
    """Our test builder reproduces agent-js' body byte for byte, so other tests' bodies are realistic."""
    body = signed_envelope(query_content(V2_IDENTITY.principal), V2_IDENTITY)
    assert body.hex() == V["V3_signed_query"]["envelope_cbor_hex"]


def test_v3_anonymous_query() -> None:
    vec = V["V3_anonymous_query"]
    env = parse_envelope(bytes.fromhex(vec["envelope_cbor_hex"]), "query")
    assert env.request_id.hex() == vec["request_id_hex"]
    assert env.is_anonymous and env.sender_pubkey is None and env.sender_sig is None
    authenticate(env, NOW)
    check_ingress_expiry(env, NOW + 10**18)  # anonymous query: no expiry check
    assert signed_envelope(query_content(Principal.anonymous()), None).hex() == vec["envelope_cbor_hex"]


# --- V4 ------------------------------------------------------------------------------------------


def test_v4_call_with_nonce() -> None:
    vec = V["V4_call_with_nonce"]
    content = call_content(V2_IDENTITY.principal, nonce=bytes.fromhex(vec["nonce_hex"]))
    assert content["arg"].hex() == vec["arg_hex"]
    assert request_id(content).hex() == vec["request_id_hex"]
    env = parse_envelope(signed_envelope(content, V2_IDENTITY), "call")
    assert env.request_id.hex() == vec["request_id_hex"]
    assert env.nonce == bytes.fromhex(vec["nonce_hex"])
    authenticate(env, NOW)


@pytest.mark.parametrize(
    ("paths", "key"),
    [
        (
            [[b"request_status", bytes.fromhex(V["V4_call_with_nonce"]["request_id_hex"])], [b"time"]],
            "V4_read_state",
        ),
        ([[b"subnet"]], "V4_read_state_subnet"),
    ],
)
def test_v4_read_state(paths: list[list[bytes]], key: str) -> None:
    content = read_state_content(V2_IDENTITY.principal, paths)
    assert request_id(content).hex() == V[key]["request_id_hex"]
    env = parse_envelope(signed_envelope(content, V2_IDENTITY), "read_state")
    assert env.request_id.hex() == V[key]["request_id_hex"]
    assert env.paths == tuple(tuple(p) for p in paths)
    authenticate(env, NOW)


# --- V5 ------------------------------------------------------------------------------------------

SPEC_TREE_HEX = (
    "8301830183024161830183018302417882034568656c6c6f810083024179820345776f726c64"
    "83024162820344676f6f648301830241638100830241648203476d6f726e696e67"
)


def spec_tree() -> Fork:
    """The spec's example tree, written out node by node."""
    return Fork(
        Fork(
            Labeled(
                b"a",
                Fork(
                    Fork(Labeled(b"x", Leaf(b"hello")), Empty()),
                    Labeled(b"y", Leaf(b"world")),
                ),
            ),
            Labeled(b"b", Leaf(b"good")),
        ),
        Fork(Labeled(b"c", Empty()), Labeled(b"d", Leaf(b"morning"))),
    )


def test_v5_spec_tree_root_hash() -> None:
    tree = spec_tree()
    assert cbor2.dumps(to_cbor_value(tree)).hex() == SPEC_TREE_HEX
    assert from_cbor_value(cbor2.loads(bytes.fromhex(SPEC_TREE_HEX))) == tree
    assert digest(tree).hex() == V["V5_spec_tree_root_hash"]


def test_v5_spec_pruned_tree_root_hash() -> None:
    full = spec_tree()
    assert isinstance(full.left, Fork) and isinstance(full.left.left, Labeled)
    a_subtree = full.left.left.subtree
    assert isinstance(a_subtree, Fork)
    pruned = Fork(
        Fork(
            Labeled(b"a", Fork(Pruned(digest(a_subtree.left)), a_subtree.right)),
            Labeled(b"b", Pruned(digest(Leaf(b"good")))),
        ),
        Fork(Pruned(digest(Labeled(b"c", Empty()))), Labeled(b"d", Leaf(b"morning"))),
    )
    assert digest(pruned).hex() == V["V5_spec_pruned_root_hash"]
    assert lookup(pruned, [b"d"]) == b"morning"
    assert lookup(pruned, [b"b"]) is None


def test_v5_domain_separators() -> None:
    seps = V["V5_domain_seps"]
    assert EMPTY_DOMAIN.hex() == seps["empty"]
    assert STATE_ROOT_DOMAIN.hex() == seps["state_root"]
    assert digest(Empty()).hex() == seps["H_empty_tree"]


def v5_reply_tree() -> Fork:
    vec = V["V5_reply_tree"]
    rid = bytes.fromhex(V["V4_call_with_nonce"]["request_id_hex"])
    return Fork(
        Labeled(
            b"request_status",
            Labeled(
                rid,
                Fork(
                    Labeled(b"reply", Leaf(bytes.fromhex(vec["reply_arg_hex"]))),
                    Labeled(b"status", Leaf(b"replied")),
                ),
            ),
        ),
        Labeled(b"time", Leaf(bytes.fromhex(vec["time_leb128_hex"]))),
    )


def test_v5_reply_tree() -> None:
    vec = V["V5_reply_tree"]
    assert uleb128(int(vec["time_ns"])).hex() == vec["time_leb128_hex"]
    tree = v5_reply_tree()
    assert encode_tagged(to_cbor_value(tree)).hex() == vec["tree_cbor_hex"]
    assert digest(tree).hex() == vec["root_hash_hex"]
    rid = bytes.fromhex(V["V4_call_with_nonce"]["request_id_hex"])
    assert lookup(tree, [b"request_status", rid, b"status"]) == vec["lookup_status"].encode()
    parsed = from_cbor_value(strip_tag(bytes.fromhex(vec["tree_cbor_hex"])))
    assert parsed == tree


# --- V6 ------------------------------------------------------------------------------------------

V6_KEY = RootKey(bytes.fromhex(V["V6_bls"]["secret_key_hex_big_endian"]))


def ark_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """BLS verification with arkworks, an implementation independent of pyblst."""
    pk = ark.G2Point.from_compressed_bytes(public_key)
    sig = ark.G1Point.from_compressed_bytes(signature)
    hashed = ark.G1Point.hash_to_curve(message, BLS_DST)
    return bool(ark.GT.pairing_check([sig, hashed], [-ark.G2Point(), pk]))


def test_v6_bls_known_answer() -> None:
    vec = V["V6_bls"]
    assert V6_KEY.public_key.hex() == vec["public_key_g2_compressed_hex"]
    assert V6_KEY.der.hex() == vec["root_key_der_hex"]
    assert V6_KEY.der[: len(BLS_DER_PREFIX)] == BLS_DER_PREFIX and len(V6_KEY.der) == 133
    assert V6_KEY.subnet_id.to_text() == vec["subnet_id_text"]
    assert V6_KEY.subnet_id.raw.hex() == vec["subnet_id_bytes_hex"]
    message = STATE_ROOT_DOMAIN + digest(v5_reply_tree())
    assert message.hex() == vec["signed_message_hex"]
    assert V6_KEY.sign(message).hex() == vec["signature_g1_compressed_hex"]


def test_v6_bls_signature_verifies_with_arkworks() -> None:
    vec = V["V6_bls"]
    message = bytes.fromhex(vec["signed_message_hex"])
    signature = bytes.fromhex(vec["signature_g1_compressed_hex"])
    public_key = bytes.fromhex(vec["public_key_g2_compressed_hex"])
    assert ark_verify(public_key, message, signature)
    assert not ark_verify(public_key, message + b"x", signature)
    # arkworks derives the same public key from the same secret
    secret = ark.Scalar(int(vec["secret_key_hex_big_endian"], 16))
    assert (ark.G2Point() * secret).to_compressed_bytes().hex() == vec["public_key_g2_compressed_hex"]


def test_v6_certificate_bytes() -> None:
    assert make_certificate(v5_reply_tree(), V6_KEY).hex() == V["V6_bls"]["certificate_cbor_hex"]


@dataclass
class FixedView:
    time_ns: int
    root_key: RootKey
    node: NodeKey
    canister_ranges: tuple[tuple[Principal, Principal], ...]

    def canister(self, cid: Principal) -> CanisterState | None:
        return None

    def request_status(self, request_id: bytes) -> RequestStatus | None:
        return None


def test_v6_call_reply_certificate_matches_vector() -> None:
    rid = bytes.fromhex(V["V4_call_with_nonce"]["request_id_hex"])
    view = FixedView(int(V["V5_reply_tree"]["time_ns"]), V6_KEY, NodeKey(bytes(32)), ((RRKAH, RRKAH),))
    status = RequestStatus(
        status="replied",
        sender=V2_IDENTITY.principal,
        canister_id=RRKAH,
        reply=bytes.fromhex(V["V5_reply_tree"]["reply_arg_hex"]),
    )
    assert call_reply_certificate(rid, status, view).hex() == V["V6_bls"]["certificate_cbor_hex"]


# --- V7 ------------------------------------------------------------------------------------------

V7_NODE = NodeKey(bytes.fromhex(V["V7_query_signature"]["node_seed_hex"]))


def test_v7_node_key() -> None:
    vec = V["V7_query_signature"]
    assert V7_NODE.der.hex() == vec["node_der_public_key_hex"]
    assert V7_NODE.node_id.to_text() == vec["node_id_text"]
    assert V7_NODE.node_id.raw.hex() == vec["node_id_bytes_hex"]


def test_v7_replied_query_signature() -> None:
    vec = V["V7_query_signature"]
    rid = bytes.fromhex(V["V3_signed_query"]["request_id_hex"])
    timestamp = int(vec["timestamp_ns"])
    response: dict[str, Any] = {
        "status": "replied",
        "reply": {"arg": bytes.fromhex(V["V5_reply_tree"]["reply_arg_hex"])},
    }
    hashed = representation_independent_hash({**response, "timestamp": timestamp, "request_id": rid})
    assert hashed.hex() == vec["replied_hash_of_map_hex"]
    entry = sign_query_response(V7_NODE, rid, response, timestamp)
    assert entry == {
        "timestamp": timestamp,
        "signature": bytes.fromhex(vec["replied_signature_hex"]),
        "identity": bytes.fromhex(vec["node_id_bytes_hex"]),
    }
    response["signatures"] = [entry]
    assert encode_response(response).hex() == vec["query_response_cbor_hex"]


def test_v7_rejected_query_hash() -> None:
    vec = V["V7_query_signature"]
    rid = bytes.fromhex(V["V3_signed_query"]["request_id_hex"])
    signed_map = {
        "status": "rejected",
        "reject_code": 3,
        "reject_message": "Canister not found",
        "error_code": "IC0301",
        "timestamp": int(vec["timestamp_ns"]),
        "request_id": rid,
    }
    assert representation_independent_hash(signed_map).hex() == vec["rejected_hash_of_map_hex"]
    response = {k: signed_map[k] for k in ("status", "reject_code", "reject_message", "error_code")}
    entry = sign_query_response(V7_NODE, rid, response, int(vec["timestamp_ns"]))
    assert entry["signature"] == V7_NODE.sign(
        b"\x0bic-response" + bytes.fromhex(vec["rejected_hash_of_map_hex"])
    )


# --- V8 ------------------------------------------------------------------------------------------


def test_v8_delegation_hash_and_signature() -> None:
    vec = V["V8_delegation"]
    assert V8_SESSION.der.hex() == vec["session_der_hex"]
    expiration = int(vec["expiration_ns"])
    with_targets = {"pubkey": V8_SESSION.der, "expiration": expiration, "targets": [RRKAH.raw]}
    without = {"pubkey": V8_SESSION.der, "expiration": expiration}
    assert [Principal.from_text(t) for t in vec["targets"]] == [RRKAH]
    assert representation_independent_hash(with_targets).hex() == vec["delegation_hash_hex"]
    assert representation_independent_hash(without).hex() == vec["delegation_hash_no_targets_hex"]
    signature = V2_IDENTITY.sign(
        b"\x1aic-request-auth-delegation" + bytes.fromhex(vec["delegation_hash_hex"])
    )
    assert signature.hex() == vec["signature_by_root_identity_hex"]


def test_v8_delegation_in_an_envelope() -> None:
    """agent-js' DelegationChain value, used as sender_delegation, authenticates a session-key request."""
    vec = V["V8_delegation"]
    chain_value = strip_tag(bytes.fromhex(vec["cbor_value_hex"]))
    content = query_content(V2_IDENTITY.principal)
    body = cbor2.dumps(
        cbor2.CBORTag(
            55799,
            {
                "content": content,
                "sender_pubkey": V2_IDENTITY.der,
                "sender_sig": V8_SESSION.sign(b"\x0aic-request" + request_id(content)),
                "sender_delegation": chain_value,
            },
        )
    )
    env = parse_envelope(body, "query")
    (delegation,) = env.delegations
    assert delegation.pubkey == V8_SESSION.der
    assert delegation.expiration == int(vec["expiration_ns"])
    assert delegation.targets == (RRKAH,)
    assert delegation.signature.hex() == vec["signature_by_root_identity_hex"]
    authenticate(env, NOW)
    check_delegation_targets(env, RRKAH)
    with pytest.raises(ProtocolError) as info:
        check_delegation_targets(env, Principal.management())
    assert info.value.http_status == 400
    assert info.value.message == "Canister 'aaaaa-aa' is not one of the delegation targets."
    # the same chain built by the test helper gives the same signature bytes
    rebuilt = signed_envelope(content, V2_IDENTITY, [Link(V8_SESSION, int(vec["expiration_ns"]), [RRKAH])])
    assert parse_envelope(rebuilt, "query").delegations == env.delegations


# --- V9 ------------------------------------------------------------------------------------------


def test_v9_leaf_encodings() -> None:
    vec = V["V9_misc"]
    assert encode_tagged([[RRKAH.raw, RRKAH.raw]]).hex() == vec["canister_ranges_leaf_cbor_hex"]
    assert encode_tagged([V2_IDENTITY.principal.raw]).hex() == vec["controllers_leaf_cbor_hex"]
    assert uleb128(3).hex() == vec["leb128_of_3"]
    assert uleb128(624485).hex() == vec["leb128_of_624485"]


def test_v9_status_response() -> None:
    status = {
        "root_key": V6_KEY.der,
        "impl_version": "0.0.0-emulator",
        "replica_health_status": "healthy",
    }
    assert encode_response(status).hex() == V["V9_misc"]["status_cbor_hex"]


def test_every_vector_is_covered() -> None:
    """Guards against a vector added to the JSON without a test here."""
    assert set(V) == {
        "V1_spec_call_request_id",
        "V2_identity",
        "V2_misc_principals",
        "V3_signed_query",
        "V3_anonymous_query",
        "V4_call_with_nonce",
        "V4_read_state",
        "V4_read_state_subnet",
        "V5_spec_tree_root_hash",
        "V5_spec_pruned_root_hash",
        "V5_domain_seps",
        "V5_reply_tree",
        "V6_bls",
        "V7_query_signature",
        "V8_delegation",
        "V9_misc",
    }
