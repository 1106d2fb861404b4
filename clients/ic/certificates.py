"""Certificates: hash-tree lookup and verification against a root key the caller passes in.

This replaces icp-py-core's certificate check instead of wrapping it, because that check cannot
be configured without patching module globals: ``Certificate.read_root_key()`` always returns the
module constant ``IC_ROOT_KEY`` (mainnet), ignoring ``Agent(root_key=...)``, and the BLS step calls
the module function ``verify_bls_signature_blst``, which needs a ``blst`` binding that is not on
PyPI (bugs C1 and C2 in the project's dependency notes). Here the root key is an argument, so two
targets with different keys can be verified in one process, and BLS goes through ``bls.verify_bls``.

The hash tree is a few dozen lines of our own (typed, and able to tell "absent" from "pruned").
Verification follows the interface spec and agent-js:

* root hash of the tree, BLS-verified over ``"\\x0dic-state-root" ‖ root_hash``;
* delegation (a subnet certificate signed by the root key): verified recursively, must not itself be
  delegated, may be up to 30 days old, must list the effective canister in its canister ranges
  (sharded ``/canister_ranges/<subnet>/<shard>`` first, then ``/subnet/<subnet>/canister_ranges``),
  and supplies ``/subnet/<subnet>/public_key`` as the key for the outer certificate;
* ``/time`` within ``max_time_skew`` seconds of the local clock, in both directions.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2

from .bls import BLS_PUBLIC_KEY_LEN, BlsVerifier, verify_bls
from .errors import CertificateError

__all__ = [
    "BLS_DER_PREFIX",
    "DEFAULT_MAX_TIME_SKEW",
    "Certificate",
    "Delegation",
    "Label",
    "bls_key_from_der",
    "canister_in_ranges",
    "decode_cbor",
    "decode_leb128",
    "verify_certificate",
]

BLS_DER_PREFIX = bytes.fromhex("308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100")
DEFAULT_MAX_TIME_SKEW = 300.0
"""Seconds; agent-js accepts certificate times within ±5 min of its clock."""
MAX_DELEGATION_AGE = 30 * 24 * 3600.0
"""Seconds; agent-js lets a delegation certificate be this old (subnets rarely re-delegate)."""

_SELF_DESCRIBE_TAG = b"\xd9\xd9\xf7"
_EMPTY, _FORK, _LABELED, _LEAF, _PRUNED = range(5)


def _domain(name: str) -> bytes:
    return bytes([len(name)]) + name.encode()


_DS_EMPTY = _domain("ic-hashtree-empty")
_DS_FORK = _domain("ic-hashtree-fork")
_DS_LABELED = _domain("ic-hashtree-labeled")
_DS_LEAF = _domain("ic-hashtree-leaf")
_DS_STATE_ROOT = _domain("ic-state-root")

Label = bytes | str
"""A path segment; text is UTF-8 encoded. Principals must be given as their raw bytes."""


def decode_cbor(data: bytes) -> Any:
    """``cbor2.loads`` minus the self-describe tag.

    cbor2 6.x turns everything inside tag 55799 into ``frozendict``/``tuple``; dropping the 3-byte
    prefix first gives plain ``dict``/``list`` (the tag carries no meaning).
    """
    data = bytes(data)
    if data.startswith(_SELF_DESCRIBE_TAG):
        data = data[3:]
    return cbor2.loads(data)


def decode_leb128(data: bytes) -> int:
    """Unsigned LEB128, exactly one number filling ``data`` (how /time and reject codes are stored)."""
    value = shift = 0
    for i, byte in enumerate(data):
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if i != len(data) - 1:
                raise ValueError("trailing bytes after LEB128 number")
            return value
    raise ValueError("truncated LEB128 number")


def bls_key_from_der(der: bytes) -> bytes:
    """The 96-byte G2 key inside a 133-byte root/subnet key DER (the form /api/v2/status serves)."""
    der = bytes(der)
    if len(der) != len(BLS_DER_PREFIX) + BLS_PUBLIC_KEY_LEN or not der.startswith(BLS_DER_PREFIX):
        raise CertificateError(f"not a BLS12-381 G2 public key DER ({len(der)} bytes: {der[:8].hex()}…)")
    return der[len(BLS_DER_PREFIX) :]


def _label(x: Label) -> bytes:
    return x.encode() if isinstance(x, str) else bytes(x)


def _check_tree(node: Any, depth: int = 0) -> None:
    """Reject malformed trees up front so lookup and hashing can index without defensive code."""
    if depth > 200 or not isinstance(node, Sequence) or isinstance(node, (bytes, str)) or not node:
        raise CertificateError("malformed hash tree node")
    tag = node[0]
    shapes: dict[int, int] = {_EMPTY: 1, _FORK: 3, _LABELED: 3, _LEAF: 2, _PRUNED: 2}
    if not isinstance(tag, int) or shapes.get(tag) != len(node):
        raise CertificateError(f"malformed hash tree node with tag {tag!r}")
    if tag == _FORK:
        _check_tree(node[1], depth + 1)
        _check_tree(node[2], depth + 1)
    elif tag == _LABELED:
        if not isinstance(node[1], bytes):
            raise CertificateError("hash tree label is not bytes")
        _check_tree(node[2], depth + 1)
    elif tag == _LEAF and not isinstance(node[1], bytes):
        raise CertificateError("hash tree leaf is not bytes")
    elif tag == _PRUNED and (not isinstance(node[1], bytes) or len(node[1]) != 32):
        raise CertificateError("pruned hash tree node must carry a 32-byte digest")


def _digest(node: Sequence[Any]) -> bytes:
    tag = node[0]
    if tag == _EMPTY:
        return hashlib.sha256(_DS_EMPTY).digest()
    if tag == _FORK:
        return hashlib.sha256(_DS_FORK + _digest(node[1]) + _digest(node[2])).digest()
    if tag == _LABELED:
        return hashlib.sha256(_DS_LABELED + node[1] + _digest(node[2])).digest()
    if tag == _LEAF:
        return hashlib.sha256(_DS_LEAF + node[1]).digest()
    return bytes(node[1])  # pruned


def _flatten(node: Sequence[Any]) -> list[Sequence[Any]]:
    """The non-fork, non-empty nodes of one tree level, left to right."""
    if node[0] == _FORK:
        return _flatten(node[1]) + _flatten(node[2])
    return [] if node[0] == _EMPTY else [node]


def _subtree(node: Sequence[Any], path: Sequence[bytes]) -> Sequence[Any] | None:
    for label in path:
        level = _flatten(node)
        found = next((n for n in level if n[0] == _LABELED and n[1] == label), None)
        if found is None:
            # Absent, or hidden behind a pruned node; both mean "not in this certificate".
            return None
        node = found[2]
    return node


@dataclass(frozen=True, slots=True)
class Delegation:
    """A certificate's ``delegation``: the subnet it delegates to and that subnet's certificate."""

    subnet_id: bytes
    certificate: bytes


class Certificate:
    """A decoded certificate; lookups work whether or not it has been verified yet."""

    __slots__ = ("_root_hash", "delegation", "signature", "tree")

    def __init__(self, tree: Sequence[Any], signature: bytes, delegation: Delegation | None = None) -> None:
        _check_tree(tree)
        self.tree = tree
        self.signature = bytes(signature)
        self.delegation = delegation
        self._root_hash: bytes | None = None

    @classmethod
    def from_cbor(cls, data: bytes) -> Certificate:
        try:
            decoded = decode_cbor(data)
        except (cbor2.CBORDecodeError, ValueError) as exc:
            raise CertificateError(f"certificate is not valid CBOR: {exc}") from exc
        return cls.from_mapping(decoded)

    @classmethod
    def from_mapping(cls, value: Any) -> Certificate:
        if not isinstance(value, Mapping) or "tree" not in value or "signature" not in value:
            raise CertificateError("certificate must be a map with 'tree' and 'signature'")
        signature = value["signature"]
        if not isinstance(signature, bytes):
            raise CertificateError("certificate signature is not bytes")
        delegation = None
        raw = value.get("delegation")
        if raw is not None:
            if not (
                isinstance(raw, Mapping)
                and isinstance(raw.get("subnet_id"), bytes)
                and isinstance(raw.get("certificate"), bytes)
            ):
                raise CertificateError("delegation must be a map with bytes 'subnet_id' and 'certificate'")
            delegation = Delegation(raw["subnet_id"], raw["certificate"])
        return cls(value["tree"], signature, delegation)

    def root_hash(self) -> bytes:
        if self._root_hash is None:
            self._root_hash = _digest(self.tree)
        return self._root_hash

    def lookup(self, path: Sequence[Label]) -> bytes | None:
        """The leaf at ``path``, or None if the certificate does not contain one there."""
        node = _subtree(self.tree, [_label(p) for p in path])
        return bytes(node[1]) if node is not None and node[0] == _LEAF else None

    def children(self, path: Sequence[Label]) -> list[bytes]:
        """Labels directly below ``path`` (e.g. the node ids under ``/subnet/<id>/node``)."""
        node = _subtree(self.tree, [_label(p) for p in path])
        if node is None:
            return []
        return [bytes(n[1]) for n in _flatten(node) if n[0] == _LABELED]

    @property
    def time_ns(self) -> int:
        raw = self.lookup([b"time"])
        if raw is None:
            raise CertificateError("certificate has no /time")
        try:
            return decode_leb128(raw)
        except ValueError as exc:
            raise CertificateError(f"certificate /time is not LEB128: {exc}") from exc

    def request_status(self, request_id: bytes) -> str | None:
        raw = self.lookup([b"request_status", request_id, b"status"])
        return None if raw is None else raw.decode("utf-8", "replace")


def _check_time(cert: Certificate, now_ns: int, max_past: float, max_future: float, what: str) -> None:
    t = cert.time_ns
    if t < now_ns - int(max_past * 1e9) or t > now_ns + int(max_future * 1e9):
        raise CertificateError(
            f"{what} /time is {(t - now_ns) / 1e9:+.1f}s from the local clock "
            f"(allowed -{max_past:.0f}s..+{max_future:.0f}s)"
        )


def canister_in_ranges(cert: Certificate, subnet_id: bytes, canister_id: bytes) -> bool:
    # Sharded layout (newer replicas): /canister_ranges/<subnet>/<shard> → CBOR [[lo, hi], ...].
    blobs = [
        leaf
        for shard in cert.children([b"canister_ranges", subnet_id])
        if (leaf := cert.lookup([b"canister_ranges", subnet_id, shard])) is not None
    ]
    legacy = cert.lookup([b"subnet", subnet_id, b"canister_ranges"])
    if legacy is not None:
        blobs.append(legacy)
    if not blobs:
        raise CertificateError(f"certificate has no canister ranges for subnet {subnet_id.hex()}")
    for blob in blobs:
        try:
            ranges = decode_cbor(blob)
            if any(bytes(lo) <= canister_id <= bytes(hi) for lo, hi in ranges):
                return True
        except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
            raise CertificateError(f"malformed canister_ranges: {exc}") from exc
    return False


def _signing_key(
    cert: Certificate,
    root_key_der: bytes,
    effective_canister_id: bytes | None,
    now_ns: int | None,
    bls_verifier: BlsVerifier,
) -> bytes:
    """The DER key that must have signed ``cert``: the root key, or the delegated subnet's key."""
    if cert.delegation is None:
        return root_key_der
    subnet_id = cert.delegation.subnet_id
    inner = Certificate.from_cbor(cert.delegation.certificate)
    if inner.delegation is not None:
        raise CertificateError("delegation certificate is itself delegated")
    _verify_signature(inner, root_key_der, bls_verifier, what="delegation certificate")
    if now_ns is not None:
        _check_time(inner, now_ns, MAX_DELEGATION_AGE, DEFAULT_MAX_TIME_SKEW, "delegation certificate")
    if effective_canister_id is not None and not canister_in_ranges(inner, subnet_id, effective_canister_id):
        raise CertificateError(
            f"canister {effective_canister_id.hex()} is outside the delegated subnet's canister ranges"
        )
    key = inner.lookup([b"subnet", subnet_id, b"public_key"])
    if key is None:
        raise CertificateError("delegation certificate lacks /subnet/<id>/public_key")
    return key


def _verify_signature(
    cert: Certificate, key_der: bytes, bls_verifier: BlsVerifier, *, what: str = "certificate"
) -> None:
    message = _DS_STATE_ROOT + cert.root_hash()
    if not bls_verifier(cert.signature, message, bls_key_from_der(key_der)):
        raise CertificateError(f"{what} BLS signature does not verify against key {key_der[-8:].hex()}…")


def verify_certificate(
    cert: bytes | Mapping[str, Any] | Certificate,
    root_key_der: bytes,
    *,
    effective_canister_id: bytes | None = None,
    max_time_skew: float | None = DEFAULT_MAX_TIME_SKEW,
    now_ns: int | None = None,
    bls_verifier: BlsVerifier = verify_bls,
) -> Certificate:
    """Verify ``cert`` against ``root_key_der`` and return it, or raise ``CertificateError``.

    ``effective_canister_id`` is only needed for delegated certificates (canister-range check).
    ``max_time_skew=None`` disables the /time check, for fixed test vectors; ``now_ns`` pins the
    clock for the same reason.
    """
    if isinstance(cert, Certificate):
        parsed = cert
    elif isinstance(cert, (bytes, bytearray, memoryview)):
        parsed = Certificate.from_cbor(bytes(cert))
    else:
        parsed = Certificate.from_mapping(cert)
    if max_time_skew is not None and now_ns is None:
        now_ns = time.time_ns()
    clock = now_ns if max_time_skew is not None else None
    key = _signing_key(parsed, bytes(root_key_der), effective_canister_id, clock, bls_verifier)
    _verify_signature(parsed, key, bls_verifier)
    if clock is not None and max_time_skew is not None:
        _check_time(parsed, clock, max_time_skew, max_time_skew, "certificate")
    return parsed
