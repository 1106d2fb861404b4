"""Test kit for the connection layer: BLS signing, hash trees, and a scripted ``httpx.MockTransport`` target.

``FakeTarget`` is not an emulator. It answers each endpoint from data the test sets up (a state
tree, canned call outcomes, a query answer), signing certificates and query replies with keys the
test controls, so each ``Connection`` path (202 then polling, non-replicated rejection, bad
signatures, wrong time, delegation) can be driven without a network. Certificates, trees and BLS
signatures are made here independently of the client; only the request id and the node-signature
message layout reuse client code, and vectors V1-V4 and V7 pin those separately.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import cbor2
import httpx
from icp_principal import Principal
from nacl.signing import SigningKey
from py_arkworks_bls12381 import G1Point, G2Point, Scalar

from clients.ic import Connection
from clients.ic.bls import BLS_DST
from clients.ic.certificates import BLS_DER_PREFIX, decode_cbor
from clients.ic.envelope import request_id
from clients.ic.identity import ED25519_DER_PREFIX
from clients.ic.signatures import query_response_signable
from tests.vectors import ic_http

# A copy of the shared agent-js vectors (see /work/shared/vectors/README.md), kept next to the tests.
VECTORS: dict[str, Any] = ic_http()
CANISTER = "rrkah-fqaaa-aaaaa-aaaaq-cai"


# ---------------------------------------------------------------- signing helpers (test side only)


def leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def bls_keypair(seed: bytes) -> tuple[int, bytes]:
    """(secret scalar, root-key DER) derived from a seed."""
    r = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
    sk = int.from_bytes(hashlib.sha256(seed).digest(), "big") % r
    return sk, BLS_DER_PREFIX + (G2Point() * Scalar(sk)).to_compressed_bytes()


def bls_sign(sk: int, message: bytes) -> bytes:
    return (G1Point.hash_to_curve(message, BLS_DST) * Scalar(sk)).to_compressed_bytes()


def make_tree(value: dict[bytes, Any] | bytes) -> list[Any]:
    """Hash tree from nested dicts (labels → subtree) with bytes leaves; balanced, labels sorted."""
    if isinstance(value, bytes):
        return [3, value]
    nodes: list[list[Any]] = [[2, label, make_tree(sub)] for label, sub in sorted(value.items())]
    if not nodes:
        return [0]

    def fork(items: list[list[Any]]) -> list[Any]:
        if len(items) == 1:
            return items[0]
        mid = len(items) // 2
        return [1, fork(items[:mid]), fork(items[mid:])]

    return fork(nodes)


def tree_digest(node: list[Any]) -> bytes:
    def ds(s: str) -> bytes:
        return bytes([len(s)]) + s.encode()

    tag = node[0]
    if tag == 0:
        return hashlib.sha256(ds("ic-hashtree-empty")).digest()
    if tag == 1:
        return hashlib.sha256(ds("ic-hashtree-fork") + tree_digest(node[1]) + tree_digest(node[2])).digest()
    if tag == 2:
        return hashlib.sha256(ds("ic-hashtree-labeled") + node[1] + tree_digest(node[2])).digest()
    if tag == 3:
        return hashlib.sha256(ds("ic-hashtree-leaf") + node[1]).digest()
    return bytes(node[1])


def make_certificate(
    state: dict[bytes, Any], sk: int, *, delegation: dict[str, bytes] | None = None
) -> bytes:
    tree = make_tree(state)
    cert: dict[str, Any] = {"tree": tree, "signature": bls_sign(sk, b"\x0dic-state-root" + tree_digest(tree))}
    if delegation is not None:
        cert["delegation"] = delegation
    return bytes(cbor2.dumps(cbor2.CBORTag(55799, cert)))


# ---------------------------------------------------------------- the scripted target


class FakeTarget:
    """Answers /api/v2/status, v3 query, v4 call and v3 read_state from test-controlled data."""

    def __init__(self, seed: bytes = b"fake-root", canister_id: str = CANISTER) -> None:
        self.sk, self.root_key = bls_keypair(seed)
        self.subnet_id = bytes(Principal.self_authenticating(self.root_key).bytes)
        self.canister_id = canister_id
        self.canister_bytes = bytes(Principal.from_str(canister_id).bytes)
        self.node_key = SigningKey(hashlib.sha256(seed + b"node").digest())
        self.node_der = ED25519_DER_PREFIX + bytes(self.node_key.verify_key)
        self.node_id = bytes(Principal.self_authenticating(self.node_der).bytes)
        self.clock: Callable[[], int] = time.time_ns
        self.log: list[tuple[str, str]] = []  # (path, request_type or "")
        self.statuses: dict[bytes, dict[bytes, bytes]] = {}  # rid → request_status subtree
        # How a query is answered: content -> unsigned response map.
        self.on_query: Callable[[dict[str, Any]], dict[str, Any]] = lambda c: {
            "status": "replied",
            "reply": {"arg": c["arg"]},
        }
        # How a call is answered: (content, rid) -> (HTTP status, body map or None).
        self.on_call: Callable[[dict[str, Any], bytes], tuple[int, dict[str, Any] | None]] = self.reply_sync
        self.tamper_query_signature = False
        self.http_errors: dict[str, tuple[int, str]] = {}  # path suffix → (status, text)

    # -- state and certificates

    def state(self) -> dict[bytes, Any]:
        ranges = cbor2.dumps(cbor2.CBORTag(55799, [[self.canister_bytes, self.canister_bytes]]))
        return {
            b"time": leb128(self.clock()),
            b"subnet": {
                self.subnet_id: {
                    b"public_key": self.root_key,
                    b"canister_ranges": ranges,
                    b"node": {self.node_id: {b"public_key": self.node_der}},
                }
            },
            b"request_status": dict(self.statuses),
        }

    def certificate(self) -> bytes:
        return make_certificate(self.state(), self.sk)

    def reply_sync(self, content: dict[str, Any], rid: bytes) -> tuple[int, dict[str, Any] | None]:
        """Default call behaviour: replied, echoing the argument, in a v4 synchronous certificate."""
        self.statuses[rid] = {b"status": b"replied", b"reply": content["arg"]}
        return 200, {"status": "replied", "certificate": self.certificate()}

    def reject_certified(self, code: int, message: str, error_code: str) -> None:
        def on_call(content: dict[str, Any], rid: bytes) -> tuple[int, dict[str, Any] | None]:
            self.statuses[rid] = {
                b"status": b"rejected",
                b"reject_code": leb128(code),
                b"reject_message": message.encode(),
                b"error_code": error_code.encode(),
            }
            return 200, {"status": "replied", "certificate": self.certificate()}

        self.on_call = on_call

    # -- HTTP

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        for suffix, (status, text) in self.http_errors.items():
            if path.endswith(suffix):
                return httpx.Response(status, text=text)
        if path == "/api/v2/status":
            self.log.append((path, ""))
            return self._cbor({"root_key": self.root_key, "impl_version": "fake"})
        envelope = decode_cbor(request.content)
        content = dict(envelope["content"])
        self.log.append((path, content["request_type"]))
        rid = request_id(content)
        if path.endswith("/query"):
            answer = self.on_query(content)
            ts = self.clock()
            sig = self.node_key.sign(query_response_signable(answer, rid, ts)).signature
            if self.tamper_query_signature:
                sig = bytes([sig[0] ^ 1]) + sig[1:]
            answer = {**answer, "signatures": [{"timestamp": ts, "signature": sig, "identity": self.node_id}]}
            return self._cbor(answer)
        if path.endswith("/call"):
            status, body = self.on_call(content, rid)
            return self._cbor(body, status) if body is not None else httpx.Response(status)
        if path.endswith("/read_state"):
            return self._cbor({"certificate": self.certificate()})
        return httpx.Response(404, text="no such endpoint")

    @staticmethod
    def _cbor(value: Any, status: int = 200) -> httpx.Response:
        return httpx.Response(status, content=cbor2.dumps(cbor2.CBORTag(55799, value)))

    def connection(self, identity: Any = None, **kwargs: Any) -> Connection:
        http = httpx.Client(transport=httpx.MockTransport(self.handler))
        kwargs.setdefault("root_key", self.root_key)
        return Connection("http://fake.test", identity, http=http, **kwargs)
