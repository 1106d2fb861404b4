"""Galleries, capsule memories and capsules (seed 1.0; requirements 25, 26).

These methods answer plain records (`success` + `message`), not `ICPResult`, because that is what
the deployed canister declares. Their refusals use message prefixes the contract fixes
(`Unauthorized`, `Invalid UUID`, `Gallery not found`) so clients can tell them apart by prefix.

Ids come from Web2 and are stored as given; storing the same id again is a no-op success, which is
what makes a "Store Forever" run safe to repeat after a failure.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from emulator.canisters.artifact import ids
from emulator.canisters.artifact.counters import Counter, bump
from emulator.canisters.artifact.ownership import (
    claim_memory,
    ensure_capsule,
    get_capsule,
    is_foreign_memory,
    memory_owner,
)
from emulator.canisters.artifact.records import (
    CapsuleInfo,
    CapsuleRegistrationResult,
    DeleteGalleryResponse,
    Gallery,
    GalleryData,
    GalleryMemoryEntry,
    GalleryUpdateData,
    Memory,
    MemoryData,
    MemoryOperationResponse,
    StoreGalleryResponse,
    UpdateGalleryResponse,
)
from emulator.principal import Principal

ICP_ONLY = "ICPOnly"
UNAUTHORIZED_ANONYMOUS = "Unauthorized: the anonymous principal cannot write"
UNAUTHORIZED_FOREIGN = "Unauthorized: this id belongs to another principal"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
SHA256_BYTES = 32


# -- galleries -------------------------------------------------------------------------------------

_GALLERY_COLUMNS = (
    "gallery_id, owner, title, description, is_public, created_at, updated_at, storage_status, memory_entries"
)


def _gallery_from_row(row: Sequence[Any]) -> Gallery:
    gallery_id, owner, title, description, is_public, created_at, updated_at, status, entries = row
    return {
        "id": gallery_id,
        "owner_principal": Principal(bytes(owner)),
        "title": title,
        "description": description,
        "is_public": bool(is_public),
        "created_at": int(created_at),
        "updated_at": int(updated_at),
        "storage_status": {status: None},
        "memory_entries": [_entry_from_json(e) for e in json.loads(entries)],
    }


def _entry_from_json(entry: dict[str, Any]) -> GalleryMemoryEntry:
    return {
        "memory_id": entry["memory_id"],
        "position": entry["position"],
        "gallery_caption": entry["gallery_caption"],
        "is_featured": entry["is_featured"],
        "gallery_metadata": entry["gallery_metadata"],
    }


def _entries_json(entries: Sequence[GalleryMemoryEntry]) -> str:
    plain = [
        {
            "memory_id": e["memory_id"],
            "position": e["position"],
            "gallery_caption": e["gallery_caption"],
            "is_featured": e["is_featured"],
            "gallery_metadata": e["gallery_metadata"],
        }
        for e in entries
    ]
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":"))


def _load_gallery(db: sqlite3.Connection, gallery_id: str) -> Gallery | None:
    row = db.execute(
        f"SELECT {_GALLERY_COLUMNS} FROM af_galleries WHERE gallery_id = ?", (gallery_id,)
    ).fetchone()
    return None if row is None else _gallery_from_row(row)


def _store_refused(message: str) -> StoreGalleryResponse:
    return {
        "success": False,
        "gallery_id": None,
        "icp_gallery_id": None,
        "message": message,
        "storage_status": {"Failed": None},
    }


def store_gallery_forever(
    db: sqlite3.Connection, caller: Principal, now: int, data: GalleryData
) -> StoreGalleryResponse:
    gallery = data["gallery"]
    gallery_id = gallery["id"]
    if caller.is_anonymous:
        return _store_refused(UNAUTHORIZED_ANONYMOUS)
    if not ids.is_canonical_uuid_v4(gallery_id):
        return _store_refused(ids.invalid_uuid_message(gallery_id))
    if data["owner_principal"] != caller or gallery["owner_principal"] != caller:
        return _store_refused("Unauthorized: owner_principal must be the caller")
    existing = db.execute("SELECT owner FROM af_galleries WHERE gallery_id = ?", (gallery_id,)).fetchone()
    if existing is not None:
        if bytes(existing[0]) != caller.raw:
            return _store_refused(UNAUTHORIZED_FOREIGN)
        return {
            "success": True,
            "gallery_id": gallery_id,
            "icp_gallery_id": gallery_id,
            "message": "Gallery already exists with this UUID; nothing rewritten",
            "storage_status": {ICP_ONLY: None},
        }
    db.execute(
        f"INSERT INTO af_galleries ({_GALLERY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            gallery_id,
            caller.raw,
            gallery["title"],
            gallery["description"],
            int(gallery["is_public"]),
            now,
            now,
            ICP_ONLY,
            _entries_json(gallery["memory_entries"]),
        ),
    )
    bump(db, Counter.GALLERIES, 1)
    ensure_capsule(db, caller, now)
    return {
        "success": True,
        "gallery_id": gallery_id,
        "icp_gallery_id": gallery_id,
        "message": "Gallery stored forever",
        "storage_status": {ICP_ONLY: None},
    }


def get_gallery_by_id(db: sqlite3.Connection, caller: Principal, gallery_id: str) -> Gallery | None:
    gallery = _load_gallery(db, gallery_id)
    if gallery is None or not (gallery["is_public"] or gallery["owner_principal"] == caller):
        return None
    return gallery


def get_user_galleries(db: sqlite3.Connection, caller: Principal, owner: Principal) -> list[Gallery]:
    """All of the owner's galleries for the owner; only the public ones for anyone else."""
    if owner == caller:
        rows = db.execute(
            f"SELECT {_GALLERY_COLUMNS} FROM af_galleries WHERE owner = ? ORDER BY created_at, gallery_id",
            (owner.raw,),
        )
    else:
        rows = db.execute(
            f"SELECT {_GALLERY_COLUMNS} FROM af_galleries WHERE owner = ? AND is_public = 1 "
            "ORDER BY created_at, gallery_id",
            (owner.raw,),
        )
    return [_gallery_from_row(row) for row in rows]


def _gallery_write_refusal(db: sqlite3.Connection, caller: Principal, gallery_id: str) -> str | None:
    """The shared refusals of update and delete, in order: anonymous, UUID, missing, foreign."""
    if caller.is_anonymous:
        return UNAUTHORIZED_ANONYMOUS
    if not ids.is_canonical_uuid_v4(gallery_id):
        return ids.invalid_uuid_message(gallery_id)
    row = db.execute("SELECT owner FROM af_galleries WHERE gallery_id = ?", (gallery_id,)).fetchone()
    if row is None:
        return f"Gallery not found: {gallery_id}"
    if bytes(row[0]) != caller.raw:
        return UNAUTHORIZED_FOREIGN
    return None


def update_gallery(
    db: sqlite3.Connection, caller: Principal, now: int, gallery_id: str, update: GalleryUpdateData
) -> UpdateGalleryResponse:
    refusal = _gallery_write_refusal(db, caller, gallery_id)
    if refusal is not None:
        return {"success": False, "gallery": None, "message": refusal}
    assignments = ["updated_at = ?"]
    values: list[Any] = [now]
    if update["title"] is not None:
        assignments.append("title = ?")
        values.append(update["title"])
    if update["description"] is not None:
        assignments.append("description = ?")
        values.append(update["description"])
    if update["is_public"] is not None:
        assignments.append("is_public = ?")
        values.append(int(update["is_public"]))
    if update["memory_entries"] is not None:
        assignments.append("memory_entries = ?")
        values.append(_entries_json(update["memory_entries"]))
    db.execute(
        f"UPDATE af_galleries SET {', '.join(assignments)} WHERE gallery_id = ?", (*values, gallery_id)
    )
    ensure_capsule(db, caller, now)
    return {"success": True, "gallery": _load_gallery(db, gallery_id), "message": "Gallery updated"}


def delete_gallery(
    db: sqlite3.Connection, caller: Principal, now: int, gallery_id: str
) -> DeleteGalleryResponse:
    refusal = _gallery_write_refusal(db, caller, gallery_id)
    if refusal is not None:
        return {"success": False, "message": refusal}
    db.execute("DELETE FROM af_galleries WHERE gallery_id = ?", (gallery_id,))
    bump(db, Counter.GALLERIES, -1)
    ensure_capsule(db, caller, now)
    return {"success": True, "message": "Gallery deleted"}


# -- capsule memories ------------------------------------------------------------------------------


def add_memory_to_capsule(
    db: sqlite3.Connection, caller: Principal, now: int, memory_id: str, data: MemoryData
) -> MemoryOperationResponse:
    def refused(message: str) -> MemoryOperationResponse:
        return {"success": False, "memory_id": None, "message": message}

    if caller.is_anonymous:
        return refused(UNAUTHORIZED_ANONYMOUS)
    if not ids.is_canonical_uuid_v4(memory_id):
        return refused(ids.invalid_uuid_message(memory_id))
    if is_foreign_memory(db, memory_id, caller):
        return refused(UNAUTHORIZED_FOREIGN)
    if db.execute("SELECT 1 FROM af_capsule_memories WHERE memory_id = ?", (memory_id,)).fetchone():
        return {
            "success": True,
            "memory_id": memory_id,
            "message": "Memory already exists with this UUID; nothing rewritten",
        }
    blob_ref = data["blob_ref"]
    blob_hash = blob_ref["hash"]
    inline = data["data"]
    if blob_hash is not None and len(blob_hash) != SHA256_BYTES:
        return refused(
            f"Invalid hash: blob_ref.hash must be {SHA256_BYTES} bytes (SHA-256), got {len(blob_hash)}"
        )
    if blob_hash is not None and inline is not None and hashlib.sha256(inline).digest() != blob_hash:
        return refused("Invalid hash: blob_ref.hash is not the SHA-256 of data")
    (kind,) = blob_ref["kind"].keys()
    claim_memory(db, memory_id, caller, now)
    db.execute(
        "INSERT INTO af_capsule_memories (memory_id, memory_type, name, content_type, created_at, "
        "updated_at, uploaded_at, blob_kind, locator, blob_hash, data, data_size) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            memory_id,
            "Image",
            f"Memory {memory_id}",
            DEFAULT_CONTENT_TYPE,
            now,
            now,
            now,
            kind,
            blob_ref["locator"],
            blob_hash,
            inline,
            0 if inline is None else len(inline),
        ),
    )
    ensure_capsule(db, caller, now)
    return {"success": True, "memory_id": memory_id, "message": "Memory added to capsule"}


def get_memory_from_capsule(db: sqlite3.Connection, caller: Principal, memory_id: str) -> Memory | None:
    if memory_owner(db, memory_id) != caller.raw:
        return None
    row = db.execute(
        "SELECT memory_type, name, content_type, created_at, updated_at, uploaded_at, blob_kind, locator, "
        "blob_hash, data, data_size FROM af_capsule_memories WHERE memory_id = ?",
        (memory_id,),
    ).fetchone()
    if row is None:
        return None
    (
        memory_type,
        name,
        content_type,
        created_at,
        updated_at,
        uploaded_at,
        kind,
        locator,
        blob_hash,
        inline,
        size,
    ) = row
    return {
        "id": memory_id,
        "info": {
            "memory_type": {memory_type: None},
            "name": name,
            "content_type": content_type,
            "created_at": created_at,
            "updated_at": updated_at,
            "uploaded_at": uploaded_at,
            "date_of_memory": None,
        },
        "metadata": {
            "Image": {
                "base": {
                    "size": size,
                    "mime_type": content_type,
                    "original_name": name,
                    "uploaded_at": str(uploaded_at),
                    "date_of_memory": None,
                    "people_in_memory": None,
                    "format": None,
                },
                "dimensions": None,
            }
        },
        "access": {"Private": None},
        "data": {
            "blob_ref": {
                "kind": {kind: None},
                "locator": locator,
                "hash": None if blob_hash is None else bytes(blob_hash),
            },
            "data": None if inline is None else bytes(inline),
        },
    }


# -- capsules --------------------------------------------------------------------------------------


def register(db: sqlite3.Connection, caller: Principal, now: int) -> bool:
    if caller.is_anonymous:
        return False
    ensure_capsule(db, caller, now, touch=False)
    return True


def register_capsule(db: sqlite3.Connection, caller: Principal, now: int) -> CapsuleRegistrationResult:
    if caller.is_anonymous:
        return {"success": False, "capsule_id": None, "is_new": False, "message": UNAUTHORIZED_ANONYMOUS}
    capsule, created = ensure_capsule(db, caller, now, touch=False)
    return {
        "success": True,
        "capsule_id": capsule.capsule_id,
        "is_new": created,
        "message": "Capsule created" if created else "Capsule already exists",
    }


def get_user(db: sqlite3.Connection, caller: Principal) -> CapsuleInfo | None:
    capsule = get_capsule(db, caller)
    if capsule is None:
        return None
    return {
        "capsule_id": capsule.capsule_id,
        "subject": {"Principal": caller},
        "is_owner": True,
        "is_controller": True,
        "is_self_capsule": True,
        "bound_to_web2": False,
        "created_at": capsule.created_at,
        "updated_at": capsule.updated_at,
    }
