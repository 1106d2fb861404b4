"""Per-canister snapshots of the stable store, as files in the state directory.

A snapshot is a consistent SQLite copy of the canister's store (`StableStore.backup_to`) plus a small
JSON record of when it was taken. They live in `<state-dir>/snapshots/<canister id>/` so they survive
restarts and are independent of the admin API's whole-emulator snapshots. Ids follow the IC's shape:
the canister id's bytes followed by a per-canister 8-byte counter, so an id names its canister.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from emulator.principal import Principal

# The IC allows this many snapshots per canister (`Canister … has reached the maximum number …`).
MAX_SNAPSHOTS_PER_CANISTER: Final = 10
_COUNTER_FILE: Final = "next-id"


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    snapshot_id: bytes
    taken_at_timestamp: int
    total_size: int


class SnapshotDirectory:
    """The snapshots of one canister; every method runs on that canister's worker thread."""

    def __init__(self, root: Path, canister_id: Principal) -> None:
        self.canister_id = canister_id
        self.path = root / canister_id.to_text()

    def _data(self, snapshot_id: bytes) -> Path:
        return self.path / f"{snapshot_id.hex()}.sqlite3"

    def _meta(self, snapshot_id: bytes) -> Path:
        return self.path / f"{snapshot_id.hex()}.json"

    def owns(self, snapshot_id: bytes) -> bool:
        """Whether an id has this canister's prefix (the IC tells foreign ids from unknown ones)."""
        raw = self.canister_id.raw
        return len(snapshot_id) == len(raw) + 8 and snapshot_id.startswith(raw)

    def list(self) -> list[SnapshotInfo]:
        if not self.path.is_dir():
            return []
        found = []
        for meta in sorted(self.path.glob("*.json")):
            try:
                record = json.loads(meta.read_text())
                snapshot_id = bytes.fromhex(meta.stem)
            except (OSError, ValueError):
                continue  # a half-written record from a crash is not a snapshot
            if self._data(snapshot_id).is_file():
                found.append(
                    SnapshotInfo(snapshot_id, int(record["taken_at_timestamp"]), int(record["total_size"]))
                )
        return sorted(found, key=lambda s: (s.taken_at_timestamp, s.snapshot_id))

    def get(self, snapshot_id: bytes) -> SnapshotInfo | None:
        return next((s for s in self.list() if s.snapshot_id == snapshot_id), None)

    def data_file(self, snapshot_id: bytes) -> Path:
        return self._data(snapshot_id)

    def total_size(self) -> int:
        return sum(s.total_size for s in self.list())

    def _next_id(self) -> bytes:
        counter = self.path / _COUNTER_FILE
        current = int(counter.read_text()) if counter.is_file() else 0
        _write_atomically(counter, str(current + 1).encode())
        return self.canister_id.raw + current.to_bytes(8, "big")

    def create(self, write_copy: Callable[[Path], None], taken_at: int) -> SnapshotInfo:
        """Copy the store with `write_copy(path)`; the record is written last: a crash leaves no snapshot."""
        self.path.mkdir(parents=True, exist_ok=True)
        snapshot_id = self._next_id()
        tmp = self.path / f"{snapshot_id.hex()}.tmp"
        tmp.unlink(missing_ok=True)
        write_copy(tmp)
        os.replace(tmp, self._data(snapshot_id))
        info = SnapshotInfo(snapshot_id, taken_at, self._data(snapshot_id).stat().st_size)
        _write_atomically(
            self._meta(snapshot_id),
            json.dumps(
                {"taken_at_timestamp": info.taken_at_timestamp, "total_size": info.total_size}
            ).encode(),
        )
        return info

    def delete(self, snapshot_id: bytes) -> None:
        self._meta(snapshot_id).unlink(missing_ok=True)  # the record first: no record, no snapshot
        self._data(snapshot_id).unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
