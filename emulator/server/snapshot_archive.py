"""Validation of a snapshot archive before a restore touches live state.

A restore replaces every hosted canister's stable store, so whatever the archive holds becomes the
state the emulator serves and restarts from. An archive is untrusted input (a file passed around, a
script's upload, a hostile page before the same-origin rules): it must be refused, with a reason and
nothing changed, when it is malformed (names, shape, sizes), corrupt (SQLite `integrity_check`), built
for other code (missing tables, a newer schema that `post_upgrade` refuses, extra triggers or views) or
bigger than what the disk can take. Only then is it swapped in.

Sizes are checked twice: from the zip headers before extracting anything (a zip bomb is refused by
its declared size and compression ratio) and while extracting (a header that lies cannot make the
copy grow past its declared size).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.principal import Principal, PrincipalError
from emulator.runtime.canister import Canister
from emulator.runtime.clock import CanisterClock
from emulator.runtime.host import CanisterHost
from emulator.runtime.stable_store import StableStore
from emulator.server.admin_inputs import MAX_CANISTER_TIME_NS, InputError, strict_json

SNAPSHOT_FORMAT = 1
MANIFEST = "manifest.json"
WORK_DIR_NAME = "tmp"
MAX_MANIFEST_BYTES = 1 << 20
_DB_MEMBER = re.compile(r"canisters/([a-z0-9-]{1,64})\.sqlite3")
_COPY_BLOCK = 1 << 20
# What the manifest says about each canister (written by the snapshot route from `_describe`).
MANIFEST_CANISTER_KEYS: Mapping[str, type] = {
    "canister_id": str,
    "kind": str,
    "version": str,
    "module_hash": str,
}


class SnapshotRejected(Exception):
    """The archive cannot be restored; `status` is the HTTP status, the message the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True, slots=True)
class RestoreLimits:
    """Caps on what a restore may write to disk (the free space of the state directory also caps it)."""

    max_upload_bytes: int = 64 << 30
    max_extracted_bytes: int = 64 << 30
    # Deflate rarely beats 100:1 on SQLite pages; a bomb is 1000:1. Members under `ratio_floor_bytes`
    # are exempt (a tiny manifest compresses well and harms nobody).
    max_compression_ratio: int = 200
    ratio_floor_bytes: int = 1 << 20
    # Left free on the state directory's filesystem after the restore's copies.
    free_space_margin_bytes: int = 64 << 20


def work_dir_of(state_dir: Path) -> Path:
    """Where snapshot and restore keep their temporary copies: on the state's filesystem, so a swap is a
    local copy and leftovers of a killed run are found (and removed) at the next start."""
    return state_dir / WORK_DIR_NAME


def clear_work_dir(work_dir: Path) -> int:
    """Removes leftovers of snapshots/restores killed mid-way; returns how many entries went."""
    if not work_dir.is_dir():
        return 0
    removed = 0
    for entry in work_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def disk_budget(work_dir: Path, limits: RestoreLimits, cap: int) -> int:
    """How many bytes a restore may still write: `cap`, or less if the disk is nearly full."""
    free = shutil.disk_usage(work_dir).free - limits.free_space_margin_bytes
    return max(0, min(cap, free))


@dataclass(frozen=True, slots=True)
class CheckedArchive:
    """An archive whose names, manifest and sizes passed; databases extracted, not yet checked."""

    manifest: dict[str, Any]
    databases: dict[Principal, Path]


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def _manifest(raw: bytes, hosted: Mapping[Principal, Any]) -> tuple[dict[str, Any], list[Principal]]:
    try:
        manifest = strict_json(raw)
    except InputError as exc:
        raise SnapshotRejected(400, f"manifest.json is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise SnapshotRejected(400, "manifest.json must be a JSON object")
    fmt = manifest.get("format")
    if type(fmt) is not int or fmt != SNAPSHOT_FORMAT:
        raise SnapshotRejected(400, f"unsupported snapshot format {fmt!r} (expected {SNAPSHOT_FORMAT})")
    canisters = manifest.get("canisters")
    if not isinstance(canisters, dict) or not canisters:
        raise SnapshotRejected(400, "manifest.json: 'canisters' must be a non-empty object")
    ids: list[Principal] = []
    for text, entry in canisters.items():
        try:
            cid = Principal.from_text(text)
        except PrincipalError:
            raise SnapshotRejected(400, f"manifest.json: {text[:80]!r} is not a canister id") from None
        if str(cid) != text:
            raise SnapshotRejected(400, f"manifest.json: canister id {text[:80]!r} is not canonical")
        if not isinstance(entry, dict):
            raise SnapshotRejected(400, f"manifest.json: canisters[{text}] must be an object")
        for key, kind in MANIFEST_CANISTER_KEYS.items():
            if not isinstance(entry.get(key), kind):
                raise SnapshotRejected(
                    400, f"manifest.json: canisters[{text}].{key} missing or not a {kind.__name__}"
                )
        if entry["canister_id"] != text:
            raise SnapshotRejected(400, f"manifest.json: canisters[{text}].canister_id does not match")
        ids.append(cid)
    missing = [str(c) for c in ids if c not in hosted]
    if missing:
        raise SnapshotRejected(409, f"snapshot holds canisters not hosted here: {', '.join(missing)}")
    return manifest, ids


def _check_members(zf: zipfile.ZipFile, limits: RestoreLimits, budget: int) -> dict[str, zipfile.ZipInfo]:
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in zf.infolist():
        name = info.filename
        if name in members:
            raise SnapshotRejected(400, f"archive member {name[:120]!r} appears twice")
        if info.is_dir() or _is_symlink(info):
            raise SnapshotRejected(400, f"archive member {name[:120]!r} is not a regular file")
        if name != MANIFEST and _DB_MEMBER.fullmatch(name) is None:
            raise SnapshotRejected(
                400,
                f"unexpected archive member {name[:120]!r} (only manifest.json and canisters/<id>.sqlite3)",
            )
        if info.flag_bits & 0x1:
            raise SnapshotRejected(400, f"archive member {name!r} is encrypted")
        if (
            info.file_size > limits.ratio_floor_bytes
            and info.file_size > max(1, info.compress_size) * limits.max_compression_ratio
        ):
            raise SnapshotRejected(
                413,
                f"archive member {name!r} expands {info.file_size} bytes from {info.compress_size} "
                f"(over {limits.max_compression_ratio}:1): refused as a zip bomb",
            )
        total += info.file_size
        members[name] = info
    if total > budget:
        raise SnapshotRejected(
            413,
            f"archive expands to {total} bytes, more than the {budget} bytes allowed "
            "(restore cap or free disk space)",
        )
    if MANIFEST not in members:
        raise SnapshotRejected(400, "archive has no manifest.json")
    if members[MANIFEST].file_size > MAX_MANIFEST_BYTES:
        raise SnapshotRejected(413, f"manifest.json is larger than {MAX_MANIFEST_BYTES} bytes")
    return members


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Copies one member, counting bytes: neither its header nor the overall budget can be exceeded."""
    written = 0
    with zf.open(info) as src, target.open("wb") as dst:
        while block := src.read(_COPY_BLOCK):
            written += len(block)
            if written > info.file_size or written > budget:
                raise SnapshotRejected(
                    413, f"archive member {info.filename!r} expands past its declared size"
                )
            dst.write(block)
    return written


def check_archive(
    archive: Path,
    work_dir: Path,
    hosted: Mapping[Principal, Any],
    limits: RestoreLimits,
) -> CheckedArchive:
    """Names, manifest and sizes; extracts the databases into `work_dir`. Raises SnapshotRejected."""
    budget = disk_budget(work_dir, limits, limits.max_extracted_bytes)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise SnapshotRejected(400, "body is not a snapshot zip") from None
    try:
        with zf:
            members = _check_members(zf, limits, budget)
            manifest, ids = _manifest(zf.read(members[MANIFEST]), hosted)
            expected = {MANIFEST} | {f"canisters/{cid}.sqlite3" for cid in ids}
            if set(members) != expected:
                extra = sorted(set(members) - expected)
                missing = sorted(expected - set(members))
                raise SnapshotRejected(
                    400,
                    "archive members do not match manifest.json: "
                    f"missing {', '.join(missing) or 'none'}; unexpected {', '.join(extra) or 'none'}",
                )
            databases: dict[Principal, Path] = {}
            for cid in ids:
                target = work_dir / f"{cid}.sqlite3"
                budget -= _extract(zf, members[f"canisters/{cid}.sqlite3"], target, budget)
                databases[cid] = target
    except SnapshotRejected:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        # A CRC mismatch, a truncated member, an unsupported compression method, ...
        raise SnapshotRejected(400, f"archive is damaged: {type(exc).__name__}: {exc}") from None
    return CheckedArchive(manifest, databases)


# -- the databases ---------------------------------------------------------------------------------


def _schema_objects(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    return {
        (str(kind), str(name))
        for kind, name in conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    }


def fresh_schema(canister_cls: type[Canister], config: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Tables, indexes, triggers and views of a freshly installed canister of this class."""
    store = StableStore(":memory:")
    try:
        CanisterHost(
            canister_id=Principal.management(),
            canister_cls=canister_cls,
            store=store,
            clock=CanisterClock(store),
            config=config,
        )
        return _schema_objects(store.conn)
    finally:
        store.close()


def check_database(path: Path, host: CanisterHost, scratch: Path) -> None:
    """Opens the snapshot read-only and checks it; then dry-runs an upgrade on a scratch copy, which is
    where the canister's own checks (e.g. a schema version newer than the code) refuse it."""
    label = str(host.canister_id)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SnapshotRejected(400, f"{label}: not an SQLite database: {exc}") from None
    try:
        conn.execute("PRAGMA trusted_schema=OFF")
        result = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        if result != ["ok"]:
            raise SnapshotRejected(400, f"{label}: database fails integrity_check: {'; '.join(result)[:500]}")
        found = _schema_objects(conn)
        expected = fresh_schema(host.canister_cls, host.config)
        missing = sorted(f"{k} {n}" for k, n in expected - found)
        if missing:
            raise SnapshotRejected(
                400, f"{label}: database lacks the canister's schema: {', '.join(missing)[:500]}"
            )
        foreign = sorted(f"{k} {n}" for k, n in found - expected if k in ("trigger", "view"))
        if foreign:
            raise SnapshotRejected(400, f"{label}: database has unknown {', '.join(foreign)[:500]}")
        row = conn.execute("SELECT value FROM _ic_meta WHERE key = 'module_hash'").fetchone()
        if row is None:
            raise SnapshotRejected(400, f"{label}: database records no installed module")
        # Backup API copy: the snapshot file itself stays as uploaded for the swap.
        dest = sqlite3.connect(str(scratch))
        try:
            conn.backup(dest)
        finally:
            dest.close()
    except sqlite3.Error as exc:
        raise SnapshotRejected(400, f"{label}: database unreadable: {exc}") from None
    finally:
        conn.close()
    _dry_run(host, scratch)


def _dry_run(host: CanisterHost, scratch: Path) -> None:
    label = str(host.canister_id)
    store = StableStore(scratch, durability="normal")
    try:
        trial = CanisterHost(
            canister_id=host.canister_id,
            canister_cls=host.canister_cls,
            store=store,
            clock=CanisterClock(store),
            config=host.config,
            controllers=host.controllers,
        )
        trial.upgrade()
        if trial.clock.now() > MAX_CANISTER_TIME_NS:
            raise SnapshotRejected(400, f"{label}: the snapshot's canister clock is past 2^62 ns")
    except SnapshotRejected:
        raise
    except Exception as exc:  # the canister's own refusal (a trap in post_upgrade) or a broken store
        raise SnapshotRejected(
            409, f"{label}: this canister's code cannot load the snapshot: {exc}"[:800]
        ) from None
    finally:
        with contextlib.suppress(sqlite3.Error):
            store.close()
