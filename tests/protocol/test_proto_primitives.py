"""CBOR codec, request ids, hash trees, keys and reject texts."""

from __future__ import annotations

import hashlib
from typing import Any

import cbor2
import py_arkworks_bls12381 as ark
import pytest

from emulator.principal import Principal
from emulator.protocol import query_signature
from emulator.protocol.cbor_codec import decode_body, encode_response
from emulator.protocol.certificate import (
    BLS12_381_ORDER,
    BLS_DST,
    STATE_ROOT_DOMAIN,
    RootKey,
    make_certificate,
)
from emulator.protocol.errors import (
    ProtocolError,
    Reject,
    RejectCode,
    canister_not_found,
    canister_rejected,
    canister_trapped,
    method_not_found,
)
from emulator.protocol.hashtree import (
    Empty,
    Fork,
    Labeled,
    Leaf,
    Pruned,
    digest,
    from_cbor_value,
    labeled_tree,
    lookup,
    to_cbor_value,
)
from emulator.protocol.node_key import NodeKey, sign_query_response
from emulator.protocol.request_id import representation_independent_hash, request_id, sleb128, uleb128
from tests.protocol.helpers import RRKAH, independent_rih

# --- CBOR ------------------------------------------------------------------------------------------


def test_decode_strips_self_describe_tag_and_freezes() -> None:
    body = cbor2.dumps(cbor2.CBORTag(55799, {"a": [1, {"b": b"x"}]}))
    value = decode_body(body, "call message")
    assert value == {"a": (1, {"b": b"x"})}
    assert isinstance(value, cbor2.frozendict) and isinstance(value["a"], tuple)
    assert decode_body(body[3:], "call message") == value


def test_decode_depth_is_bounded() -> None:
    deep = b"\xa1\x61a" + b"\x81" * 40 + b"\x00"
    with pytest.raises(ProtocolError) as info:
        decode_body(deep, "query message")
    assert info.value.http_status == 400
    assert info.value.message == (
        "Could not parse body as query message: maximum container nesting depth (32) exceeded"
    )


def test_encode_response_is_self_describing() -> None:
    assert encode_response({"a": 1}) == bytes.fromhex("d9d9f7a1616101")
    assert encode_response({"n": 2**64 - 1}) == bytes.fromhex("d9d9f7a1616e1bffffffffffffffff")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"n": 2**64}, ValueError),
        ({"n": -(2**64) - 1}, ValueError),
        ({"f": 1.5}, TypeError),
        ({1: b"x"}, TypeError),
        ({"p": Principal.anonymous()}, TypeError),
        ([{"nested": {"deep": 2**70}}], ValueError),
    ],
)
def test_encode_response_refuses_what_agents_cannot_read(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        encode_response(value)


def test_protocol_error_carries_wire_mapping() -> None:
    exc = ProtocolError(403, "nope")
    assert (exc.http_status, exc.message, str(exc)) == (403, "nope", "403: nope")


# --- request ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "8001"),
        (624485, "e58e26"),
        (2**64 - 1, "ffffffffffffffffff01"),
    ],
)
def test_uleb128(n: int, encoded: str) -> None:
    assert uleb128(n).hex() == encoded


@pytest.mark.parametrize(
    ("n", "encoded"), [(0, "00"), (-1, "7f"), (63, "3f"), (64, "c000"), (-123456, "c0bb78")]
)
def test_sleb128(n: int, encoded: str) -> None:
    assert sleb128(n).hex() == encoded


def test_rih_matches_independent_implementation() -> None:
    value = {
        "request_type": "read_state",
        "paths": [[b"request_status", b"\x01" * 32], [b"time"]],
        "sender": b"\x04",
        "ingress_expiry": 2**63,
        "nested": {"x": [1, 2, {"y": "z"}]},
    }
    assert representation_independent_hash(value) == independent_rih(value)
    assert request_id(value) == independent_rih(value)


def test_rih_is_key_order_independent_and_hashes_negative_ints() -> None:
    assert representation_independent_hash({"a": 1, "b": 2}) == representation_independent_hash(
        {"b": 2, "a": 1}
    )
    expected = hashlib.sha256(
        hashlib.sha256(b"i").digest() + hashlib.sha256(bytes.fromhex("7f")).digest()
    ).digest()
    assert representation_independent_hash({"i": -1}) == expected


@pytest.mark.parametrize("bad", [{"b": True}, {"f": 1.0}, {"l": [None]}, {"m": {1: 2}}])
def test_rih_refuses_values_without_encoding(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        representation_independent_hash(bad)


def test_rih_skips_null_entries() -> None:
    assert representation_independent_hash({"a": 1, "nonce": None}) == representation_independent_hash(
        {"a": 1}
    )


# --- hash trees ------------------------------------------------------------------------------------


def depth(tree: Any) -> int:
    if isinstance(tree, Fork):
        return 1 + max(depth(tree.left), depth(tree.right))
    if isinstance(tree, Labeled):
        return 1 + depth(tree.subtree)
    return 1


def flatten_labels(tree: Any) -> list[bytes]:
    if isinstance(tree, Fork):
        return flatten_labels(tree.left) + flatten_labels(tree.right)
    if isinstance(tree, Labeled):
        return [tree.label]
    return []


def test_labeled_tree_is_balanced_and_sorted() -> None:
    labels = [i.to_bytes(4, "big") for i in range(5000)][::-1]
    tree = labeled_tree({label: label for label in labels})
    assert flatten_labels(tree) == sorted(labels)
    assert depth(tree) <= 15  # ⌈log2 5000⌉ = 13 forks + labeled + leaf
    encoded = cbor2.dumps(to_cbor_value(tree))
    assert from_cbor_value(cbor2.loads(encoded)) == tree  # cbor2's default max_depth (400) is fine
    assert lookup(tree, [labels[123]]) == labels[123]


def test_labeled_tree_orders_prefixes_first() -> None:
    tree = labeled_tree({b"canister_ranges": b"2", b"canister": b"1", b"b": b"0", b"\xff": b"3"})
    assert flatten_labels(tree) == [b"b", b"canister", b"canister_ranges", b"\xff"]


@pytest.mark.parametrize(("count", "shape"), [(0, Empty()), (1, Labeled(b"a", Leaf(b"1")))])
def test_labeled_tree_small(count: int, shape: Any) -> None:
    children = {b"a": b"1"} if count else {}
    assert labeled_tree(children) == shape


def test_lookup_semantics() -> None:
    tree = labeled_tree({b"a": labeled_tree({b"x": b"1"}), b"b": Pruned(b"\x00" * 32), b"c": Empty()})
    assert lookup(tree, [b"a", b"x"]) == b"1"
    assert lookup(tree, [b"a"]) is None  # a subtree, not a leaf
    assert lookup(tree, [b"b"]) is None  # pruned
    assert lookup(tree, [b"a", b"x", b"deeper"]) is None
    assert lookup(tree, [b"zzz"]) is None
    assert lookup(Leaf(b"v"), []) == b"v"


@pytest.mark.parametrize(
    "bad", [[], [5], [1, [0]], [2, "text", [0]], [3, 5], [4, b"short"], "x", [True], [0, 1]]
)
def test_from_cbor_value_rejects_malformed(bad: Any) -> None:
    with pytest.raises(ValueError):
        from_cbor_value(bad)


def test_digest_handles_deep_trees_iteratively() -> None:
    tree: Any = Leaf(b"x")
    for _ in range(5000):
        tree = Labeled(b"l", tree)
    assert len(digest(tree)) == 32


# --- root key and certificates ---------------------------------------------------------------------


def test_root_key_validation() -> None:
    with pytest.raises(ValueError):
        RootKey(b"\x01" * 31)
    with pytest.raises(ValueError):
        RootKey(bytes(32))
    with pytest.raises(ValueError):
        RootKey(BLS12_381_ORDER.to_bytes(32, "big"))
    assert repr(RootKey(b"\x00" * 31 + b"\x05")) == "RootKey()"  # secrets stay out of logs


def test_generated_root_key_signs_verifiably_for_arkworks() -> None:
    key = RootKey.generate()
    assert len(key.public_key) == 96 and len(key.der) == 133
    assert key.subnet_id == Principal.self_authenticating(key.der)
    tree = labeled_tree({b"time": uleb128(1)})
    cert = cbor2.loads(make_certificate(tree, key))
    assert set(cert) == {"tree", "signature"}  # no delegation: we are the root subnet
    assert from_cbor_value(cert["tree"]) == tree
    pk = ark.G2Point.from_compressed_bytes(key.public_key)
    sig = ark.G1Point.from_compressed_bytes(cert["signature"])
    hashed = ark.G1Point.hash_to_curve(STATE_ROOT_DOMAIN + digest(tree), BLS_DST)
    assert ark.GT.pairing_check([sig, hashed], [-ark.G2Point(), pk])
    assert (
        ark.G2Point() * ark.Scalar(int.from_bytes(key.secret, "big"))
    ).to_compressed_bytes() == key.public_key


# --- node key and query signatures -----------------------------------------------------------------


def test_node_key() -> None:
    node = NodeKey.generate()
    assert len(node.der) == 44 and node.der.startswith(bytes.fromhex("302a300506032b6570032100"))
    assert node.node_id == Principal.self_authenticating(node.der)
    with pytest.raises(ValueError):
        NodeKey(b"\x00" * 31)
    assert query_signature.NodeKey is NodeKey and query_signature.sign_query_response is sign_query_response


def test_rejected_query_without_error_code_hashes_without_it() -> None:
    node = NodeKey(b"\x01" * 32)
    rid = b"\x02" * 32
    response = {"status": "rejected", "reject_code": 3, "reject_message": "gone"}
    entry = sign_query_response(node, rid, response, 5)
    expected = representation_independent_hash({**response, "timestamp": 5, "request_id": rid})
    assert entry["signature"] == node.sign(b"\x0bic-response" + expected)


@pytest.mark.parametrize(
    ("response", "timestamp"),
    [
        ({"status": "replied", "reply": {"arg": b""}}, 0),
        ({"status": "replied"}, 1),
        ({"status": "replied", "reply": {"arg": "text"}}, 1),
        ({"status": "processing"}, 1),
        ({"status": "rejected", "reject_code": 3}, 1),
        ({"status": "replied", "reply": {"arg": b""}, "extra": 1}, 1),
    ],
)
def test_sign_query_response_refuses_malformed_responses(response: dict[str, Any], timestamp: int) -> None:
    with pytest.raises(ValueError):
        sign_query_response(NodeKey(b"\x01" * 32), b"\x02" * 32, response, timestamp)


def test_signatures_key_is_ignored() -> None:
    node = NodeKey(b"\x01" * 32)
    plain = {"status": "replied", "reply": {"arg": b"DIDL\x00\x00"}}
    first = sign_query_response(node, b"\x03" * 32, plain, 9)
    again = sign_query_response(node, b"\x03" * 32, {**plain, "signatures": [first]}, 9)
    assert first == again


# --- rejects ---------------------------------------------------------------------------------------


def test_reject_helpers() -> None:
    cid = RRKAH
    assert canister_not_found(cid) == Reject(
        RejectCode.DESTINATION_INVALID, "Canister rrkah-fqaaa-aaaaa-aaaaq-cai not found.", "IC0301"
    )
    assert method_not_found(cid, "greet", "query") == Reject(
        RejectCode.CANISTER_ERROR,
        "Error from Canister rrkah-fqaaa-aaaaa-aaaaq-cai: Canister has no query method 'greet'.",
        "IC0536",
    )
    assert method_not_found(cid, "inc", "update").message.endswith("Canister has no update method 'inc'.")
    assert canister_trapped(cid, "boom") == Reject(
        RejectCode.CANISTER_ERROR,
        "Error from Canister rrkah-fqaaa-aaaaa-aaaaq-cai: Canister called `ic0.trap` with message: 'boom'.",
        "IC0503",
    )
    assert canister_rejected(cid, "no thanks") == Reject(RejectCode.CANISTER_REJECT, "no thanks", "IC0406")
    assert [int(c) for c in RejectCode] == [1, 2, 3, 4, 5, 6]
    assert Reject(4, "x", "IC0406").code is RejectCode.CANISTER_REJECT  # type: ignore[arg-type]
