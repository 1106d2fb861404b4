"""Representation-independent hashing (IC interface spec, "Request ids").

The request id is what every signature and every ``request_status`` path refers to, so it must be
computed from the *decoded* content exactly as the sender did — over every field that arrived,
including ``nonce``, ``sender_info`` and fields a future agent may add. A whitelist would make
such requests fail signature checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# H(key) of the field names the spec defines for requests, query responses and delegations: every
# request id and response signature hashes most of them, so each is hashed once here. Other keys
# (whatever a request carries) are hashed as they come; the table never grows.
_KEY_HASHES: dict[str, bytes] = {
    key: _sha256(key.encode("utf-8"))
    for key in (
        "request_type",
        "canister_id",
        "method_name",
        "arg",
        "sender",
        "ingress_expiry",
        "nonce",
        "paths",
        "sender_info",
        "status",
        "reply",
        "reject_code",
        "reject_message",
        "error_code",
        "timestamp",
        "request_id",
        "pubkey",
        "expiration",
        "targets",
    )
}


def uleb128(value: int) -> bytes:
    """Shortest unsigned LEB128, as the spec requires for hashed nats and certified numbers."""
    if value < 0:
        raise ValueError("ULEB128 encodes non-negative integers only")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb128(value: int) -> bytes:
    """Shortest signed LEB128, for the (never observed) negative integers in hashed content."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


def _hash_value(value: Any) -> bytes:
    # Blobs, texts and integers first: they are nearly every value a request holds, and each check is
    # one C-level type test (the Mapping check, an ABC, comes last).
    if isinstance(value, bytes):
        return _sha256(value)
    if isinstance(value, str):
        return _sha256(value.encode("utf-8"))
    # bool is an int subclass in Python but has no encoding in the spec; refuse it explicitly
    # instead of silently hashing True as 1.
    if isinstance(value, bool) or value is None:
        raise ValueError(f"value {value!r} has no representation-independent hash")
    if isinstance(value, int):
        return _sha256(uleb128(value) if value >= 0 else sleb128(value))
    if isinstance(value, Mapping):
        return representation_independent_hash(value)
    if isinstance(value, (list, tuple)):
        return _sha256(b"".join(_hash_value(item) for item in value))
    raise ValueError(f"value of type {type(value).__name__} has no representation-independent hash")


def representation_independent_hash(value: Mapping[str, Any]) -> bytes:
    """Hash a map: sort the ``H(key) ‖ H(value)`` pairs bytewise, concatenate, hash.

    Entries whose value is ``null`` are skipped: the replica deserializes optional fields into
    ``Option`` and hashes only those present, so an agent that writes ``nonce: null`` signs the
    hash without it.
    """
    pairs = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValueError(f"map key {key!r} is not a text string")
        if item is None:
            continue
        key_hash = _KEY_HASHES.get(key)
        if key_hash is None:
            key_hash = _sha256(key.encode("utf-8"))
        pairs.append(key_hash + _hash_value(item))
    pairs.sort()
    return _sha256(b"".join(pairs))


def request_id(content: Mapping[str, Any]) -> bytes:
    """The 32-byte request id of an envelope's ``content`` map."""
    return representation_independent_hash(content)
