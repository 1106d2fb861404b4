"""Query-response signatures: vector V7 (agent-js' hashOfMap and an Ed25519 node key)."""

from __future__ import annotations

from typing import Any

import pytest
from icp_agent.agent import to_request_id

from clients.ic.certificates import Certificate, decode_cbor
from clients.ic.errors import CertificateError, QuerySignatureError
from clients.ic.signatures import query_response_signable, subnet_node_keys, verify_query_response
from tests.clients.ic_testkit import VECTORS, FakeTarget

V7 = VECTORS["V7_query_signature"]
RID = bytes.fromhex(VECTORS["V3_signed_query"]["request_id_hex"])
NODE_ID = bytes.fromhex(V7["node_id_bytes_hex"])
NODE_KEYS = {NODE_ID: bytes.fromhex(V7["node_der_public_key_hex"])}
TS = int(V7["timestamp_ns"])
NOW = TS + 10**9


def _response() -> dict[str, Any]:
    return dict(decode_cbor(bytes.fromhex(V7["query_response_cbor_hex"])))


def test_v7_replied_signature_verifies() -> None:
    response = _response()
    assert response["signatures"][0]["signature"].hex() == V7["replied_signature_hex"]
    assert query_response_signable(response, RID, TS)[12:].hex() == V7["replied_hash_of_map_hex"]
    verify_query_response(response, RID, NODE_KEYS, now_ns=NOW)


def test_v7_rejected_hash_of_map() -> None:
    rejected = {
        "status": "rejected",
        "reject_code": 3,
        "reject_message": "Canister not found",
        "error_code": "IC0301",
    }
    assert query_response_signable(rejected, RID, TS)[12:].hex() == V7["rejected_hash_of_map_hex"]
    assert query_response_signable(rejected, RID, TS)[12:] == to_request_id(
        {**rejected, "timestamp": TS, "request_id": RID}
    )


def test_tampered_reply_fails() -> None:
    response = _response()
    response["reply"] = {"arg": response["reply"]["arg"][:-1] + b"?"}
    with pytest.raises(QuerySignatureError, match="does not verify"):
        verify_query_response(response, RID, NODE_KEYS, now_ns=NOW)


def test_other_request_id_fails() -> None:
    with pytest.raises(QuerySignatureError, match="does not verify"):
        verify_query_response(_response(), b"\x00" * 32, NODE_KEYS, now_ns=NOW)


def test_old_signature_fails_future_is_fine() -> None:
    with pytest.raises(QuerySignatureError, match="old"):
        verify_query_response(_response(), RID, NODE_KEYS, now_ns=TS + 301 * 10**9)
    verify_query_response(_response(), RID, NODE_KEYS, now_ns=TS - 3600 * 10**9)


def test_unknown_node_fails() -> None:
    with pytest.raises(QuerySignatureError, match="unknown node"):
        verify_query_response(_response(), RID, {b"\x01" * 29: NODE_KEYS[NODE_ID]}, now_ns=NOW)


@pytest.mark.parametrize(
    ("signatures", "match"),
    [
        (None, "no node signatures"),
        ([], "no node signatures"),
        ([{"timestamp": 0, "signature": b"", "identity": NODE_ID}], "no timestamp"),
        ("many", "signatures but the subnet has 1 nodes"),
    ],
    ids=["missing", "empty", "zero-timestamp", "more-than-nodes"],
)
def test_malformed_signature_lists_fail(signatures: Any, match: str) -> None:
    response = _response()
    if signatures == "many":
        signatures = response["signatures"] * 2
    response["signatures"] = signatures
    with pytest.raises(QuerySignatureError, match=match):
        verify_query_response(response, RID, NODE_KEYS, now_ns=NOW)


def test_subnet_node_keys_from_a_root_subnet_certificate(target: FakeTarget) -> None:
    cert = Certificate.from_cbor(target.certificate())
    assert subnet_node_keys(cert, target.root_key, target.canister_bytes) == {target.node_id: target.node_der}
    with pytest.raises(CertificateError, match="outside subnet"):
        subnet_node_keys(cert, target.root_key, b"\x00" * 9 + b"\x01")
