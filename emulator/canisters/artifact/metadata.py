"""Memory metadata and presence (seed 1.3; requirements 18, 22.4, 22.5, 25).

Presence is the contract between Web2 and ICP: Web2 marks a memory "stored forever" only after ICP
says both artifacts are present, so presence is exact per memory id, owner-scoped (a foreign memory
reads as absent) and never derived from anything but stored rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import sqlite3
import struct
from collections.abc import Sequence

from emulator.canisters.artifact import ids
from emulator.canisters.artifact.errors import Refused, internal, ok, unauthorized
from emulator.canisters.artifact.limits import Limits
from emulator.canisters.artifact.ownership import claim_memory, ensure_capsule, is_foreign_memory
from emulator.canisters.artifact.records import (
    ICPResult,
    MemoryListPresenceResponse,
    MemoryPresenceResponse,
    MemoryPresenceResult,
    MetadataResponse,
    SimpleMemoryMetadata,
    Variant,
)
from emulator.principal import Principal

METADATA_ARTIFACT = "metadata"


def encode_metadata(memory_type: str, metadata: SimpleMemoryMetadata) -> str:
    """The stored form; its UTF-8 length is what the 64 KiB limit measures."""
    body = {
        "memory_type": memory_type,
        "title": metadata["title"],
        "description": metadata["description"],
        "tags": list(metadata["tags"]),
        "created_at": metadata["created_at"],
        "updated_at": metadata["updated_at"],
        "size": metadata["size"],
        "content_type": metadata["content_type"],
        "custom_fields": [[k, v] for k, v in metadata["custom_fields"]],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def variant_tag(value: Variant) -> str:
    (tag,) = value.keys()
    return str(tag)


def upsert_metadata(
    db: sqlite3.Connection,
    caller: Principal,
    now: int,
    limits: Limits,
    memory_id: str,
    memory_type: Variant,
    metadata: SimpleMemoryMetadata,
    idempotency_key: str,
) -> ICPResult[MetadataResponse]:
    if caller.is_anonymous:
        raise Refused(unauthorized())
    if not ids.is_canonical_uuid_v4(memory_id):
        raise Refused(internal(ids.invalid_uuid_message(memory_id)))
    try:
        ids.parse_idempotency_key(idempotency_key, memory_id, METADATA_ARTIFACT)
    except ids.IdempotencyKeyError as exc:
        raise Refused(internal(str(exc))) from None
    if is_foreign_memory(db, memory_id, caller):
        raise Refused(unauthorized())
    applied = db.execute(
        "SELECT 1 FROM af_metadata_keys WHERE memory_id = ? AND idempotency_key = ?",
        (memory_id, idempotency_key),
    ).fetchone()
    if applied is not None:
        return ok(
            _metadata_ok(memory_id, "Metadata already applied for this idempotency key; nothing rewritten")
        )
    tag = variant_tag(memory_type)
    body = encode_metadata(tag, metadata)
    size = len(body.encode("utf-8"))
    if size > limits.max_metadata_size:
        raise Refused(internal(f"Metadata too large: {size} bytes encoded (max {limits.max_metadata_size})"))
    claim_memory(db, memory_id, caller, now)
    replaced = db.execute("SELECT 1 FROM af_metadata WHERE memory_id = ?", (memory_id,)).fetchone()
    db.execute(
        "INSERT INTO af_metadata (memory_id, memory_type, body, encoded_size, idempotency_key, stored_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (memory_id) DO UPDATE SET memory_type = excluded.memory_type, "
        "body = excluded.body, encoded_size = excluded.encoded_size, "
        "idempotency_key = excluded.idempotency_key, stored_at = excluded.stored_at",
        (memory_id, tag, body, size, idempotency_key, now),
    )
    db.execute(
        "INSERT INTO af_metadata_keys (memory_id, idempotency_key, applied_at) VALUES (?, ?, ?)",
        (memory_id, idempotency_key, now),
    )
    ensure_capsule(db, caller, now)
    return ok(_metadata_ok(memory_id, "Metadata updated" if replaced else "Metadata stored"))


def _metadata_ok(memory_id: str, message: str) -> MetadataResponse:
    return {"success": True, "memory_id": memory_id, "message": message, "error": None}


_PRESENCE_SQL = (
    "SELECT EXISTS (SELECT 1 FROM af_metadata d WHERE d.memory_id = m.memory_id), "
    "EXISTS (SELECT 1 FROM af_assets a WHERE a.memory_id = m.memory_id) "
    "FROM af_memories m WHERE m.memory_id = ? AND m.owner = ?"
)


def presence(db: sqlite3.Connection, caller: Principal, memory_id: str) -> tuple[bool, bool]:
    """(metadata_present, asset_present) of the caller's memory; another's memory is absent."""
    row = db.execute(_PRESENCE_SQL, (memory_id, caller.raw)).fetchone()
    return (False, False) if row is None else (bool(row[0]), bool(row[1]))


def get_memory_presence(
    db: sqlite3.Connection, caller: Principal, memory_id: str
) -> ICPResult[MemoryPresenceResponse]:
    if not ids.is_canonical_uuid_v4(memory_id):
        raise Refused(internal(ids.invalid_uuid_message(memory_id)))
    meta, asset = presence(db, caller, memory_id)
    return ok({"success": True, "metadata_present": meta, "asset_present": asset, "error": None})


# Cursor: base64url (unpadded) of version, offset into the requested list, and a digest of that
# list. The digest makes a cursor from another list (or an edited one) fail loudly instead of
# silently paging the wrong ids.
_CURSOR_VERSION = 1
_CURSOR = struct.Struct(">BI8s")
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]+")


def _list_digest(memory_ids: Sequence[str]) -> bytes:
    h = hashlib.sha256()
    for memory_id in memory_ids:
        raw = memory_id.encode("utf-8")
        h.update(len(raw).to_bytes(4, "big"))
        h.update(raw)
    return h.digest()[:8]


def encode_cursor(offset: int, memory_ids: Sequence[str]) -> str:
    raw = _CURSOR.pack(_CURSOR_VERSION, offset, _list_digest(memory_ids))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, memory_ids: Sequence[str]) -> int:
    """The offset a cursor points at; `Refused(Internal("Invalid cursor"))` if it is not ours."""
    invalid = Refused(internal("Invalid cursor"))
    if _CURSOR_TEXT.fullmatch(cursor) is None:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    if len(raw) != _CURSOR.size:
        raise invalid
    version, offset, digest = _CURSOR.unpack(raw)
    if version != _CURSOR_VERSION or digest != _list_digest(memory_ids) or not 0 < offset < len(memory_ids):
        raise invalid
    return int(offset)


def page_size(limits: Limits, limit: int) -> int:
    if limit == 0:
        return limits.presence_page_default
    return min(limit, limits.presence_page_max)


def get_memory_list_presence(
    db: sqlite3.Connection,
    caller: Principal,
    limits: Limits,
    memory_ids: Sequence[str],
    cursor: str | None,
    limit: int,
) -> ICPResult[MemoryListPresenceResponse]:
    """One page of per-id presence; each id costs two primary-key probes, whatever is stored."""
    for memory_id in memory_ids:
        if not ids.is_canonical_uuid_v4(memory_id):
            raise Refused(internal(ids.invalid_uuid_message(memory_id)))
    start = 0 if cursor is None else decode_cursor(cursor, memory_ids)
    end = min(start + page_size(limits, limit), len(memory_ids))
    results: list[MemoryPresenceResult] = []
    for memory_id in memory_ids[start:end]:
        meta, asset = presence(db, caller, memory_id)
        results.append({"memory_id": memory_id, "metadata_present": meta, "asset_present": asset})
    has_more = end < len(memory_ids)
    return ok(
        {
            "success": True,
            "results": results,
            "cursor": encode_cursor(end, memory_ids) if has_more else None,
            "has_more": has_more,
            "error": None,
        }
    )
