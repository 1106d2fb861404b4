"""The emulator's single node key and the query-response signatures made with it.

agent-js (3.x and 6.x) and agent-rs verify query responses by default: each response must carry a
signature by a node whose Ed25519 key appears under ``/subnet/<sid>/node/<nid>/public_key`` in a
certified read_state answer (IC interface spec, "Query call" → "response authentication").
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import nacl.signing

from emulator.principal import Principal
from emulator.protocol.request_id import representation_independent_hash

ED25519_DER_PREFIX: Final = bytes.fromhex("302a300506032b6570032100")
"""RFC 8410 SubjectPublicKeyInfo prefix of an Ed25519 key (44 bytes in total with the key)."""

IC_RESPONSE_DOMAIN: Final = b"\x0bic-response"
"""Spec, "Query call": domain separator of node signatures on query responses."""

SEED_LENGTH: Final = 32


@dataclass(frozen=True, slots=True)
class NodeKey:
    """An Ed25519 node key; the node id is the self-authenticating principal of its DER key."""

    seed: bytes = field(repr=False)
    _signing_key: nacl.signing.SigningKey = field(init=False, repr=False, compare=False)
    # Every signed query response names the node id (a SHA-224 of the DER key): derive it once.
    _der: bytes = field(init=False, repr=False, compare=False)
    _node_id: Principal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_LENGTH:
            raise ValueError("an Ed25519 seed is 32 bytes")
        signing_key = nacl.signing.SigningKey(self.seed)
        der = ED25519_DER_PREFIX + bytes(signing_key.verify_key)
        object.__setattr__(self, "_signing_key", signing_key)
        object.__setattr__(self, "_der", der)
        object.__setattr__(self, "_node_id", Principal.self_authenticating(der))

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(secrets.token_bytes(SEED_LENGTH))

    @property
    def der(self) -> bytes:
        return self._der

    @property
    def node_id(self) -> Principal:
        return self._node_id

    def sign(self, message: bytes) -> bytes:
        return bytes(self._signing_key.sign(message).signature)


_REPLIED_KEYS: Final = frozenset({"status", "reply"})
_REJECTED_KEYS: Final = frozenset({"status", "reject_code", "reject_message", "error_code"})


def sign_query_response(
    node: NodeKey, request_id: bytes, response: Mapping[str, Any], timestamp_ns: int
) -> dict[str, Any]:
    """The ``signatures`` entry for a query response, over ``"\\x0bic-response" ‖ RIH(M)``.

    ``M`` is the response's own fields plus ``timestamp`` and ``request_id``; for a reject,
    ``error_code`` is hashed only if the response carries it (spec), so the caller's map is the
    single source of truth for what gets signed. A stray ``signatures`` key is ignored.
    """
    if timestamp_ns <= 0:
        # agent-js treats a zero timestamp as missing and rejects the response.
        raise ValueError("the signature timestamp must be a positive nanosecond time")
    status = response.get("status")
    if status == "replied":
        allowed, required = _REPLIED_KEYS, _REPLIED_KEYS
        reply = response.get("reply")
        if not isinstance(reply, Mapping) or not isinstance(reply.get("arg"), bytes):
            raise ValueError("a replied query response needs reply = {arg: bytes}")
    elif status == "rejected":
        allowed, required = _REJECTED_KEYS, _REJECTED_KEYS - {"error_code"}
    else:
        raise ValueError(f"cannot sign a query response with status {status!r}")
    fields = {key: value for key, value in response.items() if key != "signatures"}
    missing = required - fields.keys()
    extra = fields.keys() - allowed
    if missing or extra:
        raise ValueError(f"query response fields: missing {sorted(missing)}, unexpected {sorted(extra)}")
    signed = {**fields, "timestamp": timestamp_ns, "request_id": request_id}
    signature = node.sign(IC_RESPONSE_DOMAIN + representation_independent_hash(signed))
    return {"timestamp": timestamp_ns, "signature": signature, "identity": node.node_id.raw}
