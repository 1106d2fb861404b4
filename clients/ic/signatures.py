"""Query-response signatures: the node keys a subnet certifies, and the check agent-js makes.

A query is answered by one replica, not by consensus, so the reply is only as trustworthy as the
node signature on it. The check mirrors agent-js (``verifyQuerySignatures``, on by default):

* the node keys come from a certified ``read_state [["subnet"]]`` on the canister's endpoint,
  verified with the root key; the subnet must list the canister in its canister ranges;
* every entry of ``signatures`` must name a known node and verify (the stricter @icp-sdk/core 6
  rule; agent-js 3 stopped at the first valid one), and there must be at least one;
* each timestamp must be present, non-zero and at most 5 minutes old (future is fine);
* the signed message is ``"\\x0Bic-response" ‖ RIH(M)`` with ``M`` = ``{status, reply}`` or
  ``{status, reject_code, reject_message[, error_code]}`` plus ``timestamp`` and ``request_id``.

icp-py-core has its own version (off by default), but it reads node keys from an *unverified*
subnet certificate and builds the reject message from a non-existent ``reject`` sub-map, so it is
not used.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

from icp_agent.agent import to_request_id
from icp_principal import Principal
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .certificates import Certificate, canister_in_ranges
from .errors import CertificateError, QuerySignatureError
from .identity import ED25519_DER_PREFIX

__all__ = [
    "MAX_QUERY_SIGNATURE_AGE",
    "RESPONSE_DOMAIN_SEPARATOR",
    "query_response_signable",
    "subnet_node_keys",
    "verify_query_response",
]

RESPONSE_DOMAIN_SEPARATOR = b"\x0bic-response"
MAX_QUERY_SIGNATURE_AGE = 300.0
"""Seconds; agent-js refuses query signatures older than 5 minutes."""


def subnet_node_keys(cert: Certificate, root_key_der: bytes, canister_id: bytes) -> dict[bytes, bytes]:
    """Node id → 44-byte Ed25519 DER key, from an already verified ``[["subnet"]]`` certificate."""
    if cert.delegation is not None:
        subnet_id = cert.delegation.subnet_id
    else:
        # The root subnet's id is the self-authenticating principal of the root key.
        subnet_id = bytes(Principal.self_authenticating(root_key_der).bytes)
    if not canister_in_ranges(cert, subnet_id, canister_id):
        raise CertificateError(f"canister {canister_id.hex()} is outside subnet {subnet_id.hex()}'s ranges")
    keys: dict[bytes, bytes] = {}
    for node_id in cert.children([b"subnet", subnet_id, b"node"]):
        der = cert.lookup([b"subnet", subnet_id, b"node", node_id, b"public_key"])
        if der is not None and len(der) == 44 and der.startswith(ED25519_DER_PREFIX):
            keys[node_id] = der
    if not keys:
        raise CertificateError(f"subnet {subnet_id.hex()} certificate lists no Ed25519 node keys")
    return keys


@functools.lru_cache(maxsize=256)
def _node_verify_key(der: bytes) -> VerifyKey:
    """A node's key, built once: a subnet has a few nodes and every query is checked against them."""
    return VerifyKey(der[len(ED25519_DER_PREFIX) :])


def query_response_signable(response: Mapping[str, Any], request_id: bytes, timestamp: int) -> bytes:
    """The bytes a node signs for ``response`` (a decoded query reply map)."""
    status = response.get("status")
    fields: dict[str, Any]
    if status == "replied":
        reply = response.get("reply")
        if not isinstance(reply, Mapping) or not isinstance(reply.get("arg"), bytes):
            raise QuerySignatureError("replied query response lacks reply.arg")
        fields = {"status": "replied", "reply": {"arg": reply["arg"]}}
    elif status == "rejected":
        fields = {
            "status": "rejected",
            "reject_code": response.get("reject_code"),
            "reject_message": response.get("reject_message"),
        }
        if response.get("error_code") is not None:
            fields["error_code"] = response["error_code"]
    else:
        raise QuerySignatureError(f"cannot check the signature of a query response with status {status!r}")
    fields["timestamp"] = timestamp
    fields["request_id"] = bytes(request_id)
    return RESPONSE_DOMAIN_SEPARATOR + bytes(to_request_id(fields))


def verify_query_response(
    response: Mapping[str, Any],
    request_id: bytes,
    node_keys: Mapping[bytes, bytes],
    *,
    now_ns: int | None = None,
    max_age: float = MAX_QUERY_SIGNATURE_AGE,
) -> None:
    """Raise ``QuerySignatureError`` unless every node signature on ``response`` checks out."""
    signatures = response.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise QuerySignatureError("query response carries no node signatures")
    if len(signatures) > len(node_keys):
        raise QuerySignatureError(f"{len(signatures)} signatures but the subnet has {len(node_keys)} nodes")
    now = time.time_ns() if now_ns is None else now_ns
    for entry in signatures:
        if not isinstance(entry, Mapping):
            raise QuerySignatureError("malformed entry in query response signatures")
        node_id, sig, timestamp = entry.get("identity"), entry.get("signature"), entry.get("timestamp")
        if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp <= 0:
            raise QuerySignatureError("query signature has no timestamp")
        if timestamp < now - int(max_age * 1e9):
            raise QuerySignatureError(f"query signature is {(now - timestamp) / 1e9:.0f}s old")
        if not isinstance(node_id, bytes) or node_id not in node_keys:
            shown = node_id.hex() if isinstance(node_id, bytes) else repr(node_id)
            raise QuerySignatureError(f"query signed by unknown node {shown}")
        if not isinstance(sig, bytes):
            raise QuerySignatureError("query signature is not bytes")
        message = query_response_signable(response, request_id, timestamp)
        try:
            _node_verify_key(bytes(node_keys[node_id])).verify(message, sig)
        except (BadSignatureError, ValueError) as exc:
            raise QuerySignatureError(f"query signature by node {node_id.hex()} does not verify") from exc
