"""Identifier rules: Web2 UUIDs, SHA-256 digests, idempotency keys and session ids.

Gallery and memory ids are chosen by Web2 and must match byte for byte on both sides (requirement
26), so only the one canonical spelling is accepted: an uppercase or unhyphenated form of the same
UUID would be a second id for the same object.
"""

from __future__ import annotations

import re
import secrets

_UUID_V4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
# Content hashes in idempotency keys are Web2's business; they only have to be one visible token.
_KEY_TOKEN = re.compile(r"[\x21-\x39\x3b-\x7e]+")  # printable ASCII except ':'

# 160 random bits: above the contract's 128-bit floor, so a session id can't be guessed or enumerated.
SESSION_ID_BYTES = 20
_SHOWN = 80


def is_canonical_uuid_v4(value: str) -> bool:
    return _UUID_V4.fullmatch(value) is not None


def is_sha256_hex(value: str) -> bool:
    return _SHA256_HEX.fullmatch(value) is not None


def shown(value: str) -> str:
    """A caller-supplied value quoted in an error message, cut so replies stay small."""
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def invalid_uuid_message(value: str) -> str:
    return f"Invalid UUID: {shown(value)} is not a canonical lowercase UUID v4"


class IdempotencyKeyError(ValueError):
    pass


def parse_idempotency_key(key: str, memory_id: str, artifact: str) -> str:
    """Check `<memoryId>:<artifact>:<contentHash>` against this call and return the content hash.

    Each part is compared exactly, so a key for another memory or artifact never passes, not even
    one that merely contains the right id.
    """
    parts = key.split(":")
    if len(parts) != 3:
        raise IdempotencyKeyError(
            f"Invalid idempotency key: {shown(key)} is not of the form '<memoryId>:{artifact}:<contentHash>'"
        )
    key_memory, key_artifact, content_hash = parts
    if key_memory != memory_id:
        raise IdempotencyKeyError(
            f"Invalid idempotency key: {shown(key)} names memory {shown(key_memory)}, not {memory_id!r}"
        )
    if key_artifact != artifact:
        raise IdempotencyKeyError(
            f"Invalid idempotency key: {shown(key)} names artifact {shown(key_artifact)}, not {artifact!r}"
        )
    if _KEY_TOKEN.fullmatch(content_hash) is None:
        raise IdempotencyKeyError(
            f"Invalid idempotency key: {shown(key)} has an empty or invalid content hash"
        )
    return content_hash


def new_session_id() -> str:
    return secrets.token_hex(SESSION_ID_BYTES)
