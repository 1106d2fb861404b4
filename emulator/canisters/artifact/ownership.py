"""Who owns what: the memory-id registry and the per-principal capsule.

A memory id is claimed by the first principal that writes anything under it (metadata, an upload
session, capsule content); from then on only that principal may write under it or see it. Keeping
the registry in one table makes "foreign id -> Unauthorized" one primary-key lookup for every method.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from emulator.canisters.artifact.counters import Counter, bump
from emulator.principal import Principal


def memory_owner(db: sqlite3.Connection, memory_id: str) -> bytes | None:
    row = db.execute("SELECT owner FROM af_memories WHERE memory_id = ?", (memory_id,)).fetchone()
    return None if row is None else bytes(row[0])


def is_foreign_memory(db: sqlite3.Connection, memory_id: str, caller: Principal) -> bool:
    owner = memory_owner(db, memory_id)
    return owner is not None and owner != caller.raw


def claim_memory(db: sqlite3.Connection, memory_id: str, caller: Principal, now: int) -> None:
    """Record `caller` as the memory's owner unless it already is (callers check foreign first)."""
    inserted = db.execute(
        "INSERT INTO af_memories (memory_id, owner, created_at) VALUES (?, ?, ?) "
        "ON CONFLICT (memory_id) DO NOTHING",
        (memory_id, caller.raw, now),
    ).rowcount
    bump(db, Counter.MEMORIES, inserted)


@dataclass(frozen=True, slots=True)
class Capsule:
    capsule_id: str
    owner: bytes
    created_at: int
    updated_at: int


def get_capsule(db: sqlite3.Connection, caller: Principal) -> Capsule | None:
    row = db.execute(
        "SELECT capsule_id, owner, created_at, updated_at FROM af_capsules WHERE owner = ?", (caller.raw,)
    ).fetchone()
    return None if row is None else Capsule(row[0], bytes(row[1]), row[2], row[3])


def ensure_capsule(
    db: sqlite3.Connection, caller: Principal, now: int, *, touch: bool = True
) -> tuple[Capsule, bool]:
    """The caller's capsule, created on first use; the flag says whether it was created now.

    With `touch`, an existing capsule's `updated_at` moves to `now`: it records the owner's last
    successful write (registering again is not a write).
    """
    existing = get_capsule(db, caller)
    if existing is not None:
        if not touch:
            return existing, False
        db.execute("UPDATE af_capsules SET updated_at = ? WHERE owner = ?", (now, caller.raw))
        return Capsule(existing.capsule_id, existing.owner, existing.created_at, now), False
    cursor = db.execute(
        "INSERT INTO af_capsules (owner, created_at, updated_at) VALUES (?, ?, ?)", (caller.raw, now, now)
    )
    seq = cursor.lastrowid
    # Time alone repeats when two capsules are created in the same instant; the sequence never does.
    capsule_id = f"capsule_{now}_{seq}"
    db.execute("UPDATE af_capsules SET capsule_id = ? WHERE seq = ?", (capsule_id, seq))
    return Capsule(capsule_id, caller.raw, now, now), True
