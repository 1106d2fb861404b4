"""Restore validates a snapshot archive completely before it touches live state.

Before: archives without a manifest, with a list manifest, missing keys, a symlink member, random or
truncated SQLite gave HTTP 500; a corrupt, unrelated or newer-schema database was accepted or
half-applied (data lost; once the state directory no longer started); a 1 MiB zip bomb expanded to
1 GiB in the temporary directory. Now each is a 4xx with the reason, the stored memory is still there
with the same SHA-256, and no temporary file is left.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
import stat
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from clients.admin import AdminClient, AdminError
from clients.artifact import upload
from tests.client.conftest import downloaded_sha256, make_client, new_id, sha256
from tests.emulator_process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess

ZIP = {"Content-Type": "application/zip"}
HANG_GUARD_S = 30.0  # "it did not hang", not a speed measurement


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("restore") / "state",
        canisters=[f"artifact={DEFAULT_ID}", f"example={EXAMPLE_ID}"],
        extra_args=["--quiet"],
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def stored(emu: EmulatorProcess) -> tuple[str, str]:
    """A memory stored before any restore attempt: (memory id, SHA-256 of its bytes)."""
    data = os.urandom(300_000)
    mid = new_id()
    upload(make_client(emu.url), mid, data)
    return mid, sha256(data)


@pytest.fixture(scope="module")
def good_snapshot(emu: EmulatorProcess, stored: tuple[str, str]) -> bytes:
    return httpx.get(f"{emu.admin_url}/snapshot", timeout=60).content


def _members(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _manifest(snapshot: bytes) -> dict[str, object]:
    return dict(json.loads(_members(snapshot)["manifest.json"]))


def _artifact_db(snapshot: bytes, tmp: Path, change: Callable[[sqlite3.Connection], None]) -> bytes:
    path = tmp / "db.sqlite3"
    path.write_bytes(_members(snapshot)[f"canisters/{DEFAULT_ID}.sqlite3"])
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=DELETE")
    change(conn)
    conn.commit()
    conn.close()
    return path.read_bytes()


def _with_artifact_db(snapshot: bytes, db: bytes) -> bytes:
    members = _members(snapshot)
    members[f"canisters/{DEFAULT_ID}.sqlite3"] = db
    return _zip(members)


def _restore(emu: EmulatorProcess, body: bytes) -> httpx.Response:
    return httpx.put(f"{emu.admin_url}/snapshot", content=body, headers=ZIP, timeout=120)


def _assert_unchanged(emu: EmulatorProcess, stored: tuple[str, str]) -> None:
    mid, digest = stored
    assert downloaded_sha256(emu.admin_url, mid) == digest
    work = emu.state_dir / "tmp"
    assert not work.exists() or list(work.iterdir()) == []


def _symlink_archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(f"canisters/{DEFAULT_ID}.sqlite3")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../../keys/root_key.pem")
        zf.writestr("manifest.json", "{}")
    return buf.getvalue()


def _bad_archives(snapshot: bytes, tmp: Path) -> dict[str, tuple[bytes, int, str]]:
    manifest = _manifest(snapshot)
    members = _members(snapshot)
    db_name = f"canisters/{DEFAULT_ID}.sqlite3"
    artifact_only = {"format": 1, "canisters": {DEFAULT_ID: manifest["canisters"][DEFAULT_ID]}}  # type: ignore[index]
    unrelated = tmp / "unrelated.sqlite3"
    conn = sqlite3.connect(unrelated)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()

    def newer_schema(c: sqlite3.Connection) -> None:
        c.execute("UPDATE af_meta SET value = 99 WHERE key = 'schema_version'")

    def hostile_trigger(c: sqlite3.Connection) -> None:
        c.execute("CREATE TRIGGER wipe AFTER INSERT ON af_audit BEGIN DELETE FROM af_assets; END")

    db = members[db_name]
    missing_keys = json.dumps({"format": 1, "canisters": {DEFAULT_ID: {}}}).encode()
    only_artifact = json.dumps(artifact_only).encode()
    foreign_entry = {**artifact_only["canisters"][DEFAULT_ID], "canister_id": "aaaaa-aa"}  # type: ignore[index]
    foreign = json.dumps({"format": 1, "canisters": {"aaaaa-aa": foreign_entry}}).encode()
    return {
        "no manifest": (_zip({db_name: db}), 400, "no manifest.json"),
        "list manifest": (_zip({"manifest.json": b"[]", db_name: db}), 400, "must be a JSON object"),
        "manifest missing keys": (
            _zip(
                {
                    "manifest.json": missing_keys,
                    db_name: db,
                }
            ),
            400,
            "canister_id missing",
        ),
        "manifest without canisters": (
            _zip({"manifest.json": b'{"format": 1}', db_name: db}),
            400,
            "'canisters' must be a non-empty object",
        ),
        "manifest NaN format": (
            _zip({"manifest.json": b'{"format": NaN}', db_name: db}),
            400,
            "not valid JSON",
        ),
        "symlink member": (_symlink_archive(), 400, "is not a regular file"),
        "dot-dot member": (
            _zip({"manifest.json": only_artifact, "../escape.sqlite3": db}),
            400,
            "unexpected archive member '../escape.sqlite3'",
        ),
        "member not in manifest": (
            _zip(
                {
                    "manifest.json": json.dumps(artifact_only).encode(),
                    db_name: db,
                    f"canisters/{EXAMPLE_ID}.sqlite3": db,
                }
            ),
            400,
            "do not match manifest.json",
        ),
        "canister not hosted": (
            _zip({"manifest.json": foreign, "canisters/aaaaa-aa.sqlite3": db}),
            409,
            "not hosted here: aaaaa-aa",
        ),
        "random bytes": (os.urandom(64 * 1024), 400, "not a snapshot zip"),
        "random database": (_with_artifact_db(snapshot, os.urandom(64 * 1024)), 400, "not a database"),
        "truncated database": (_with_artifact_db(snapshot, db[: len(db) // 2]), 400, DEFAULT_ID),
        "unrelated schema": (
            _with_artifact_db(snapshot, unrelated.read_bytes()),
            400,
            "lacks the canister's schema",
        ),
        "newer schema version": (
            _with_artifact_db(snapshot, _artifact_db(snapshot, tmp, newer_schema)),
            409,
            "schema v99",
        ),
        "foreign trigger": (
            _with_artifact_db(snapshot, _artifact_db(snapshot, tmp, hostile_trigger)),
            400,
            "unknown trigger wipe",
        ),
    }


BAD_CASES = [
    "no manifest",
    "list manifest",
    "manifest missing keys",
    "manifest without canisters",
    "manifest NaN format",
    "symlink member",
    "dot-dot member",
    "member not in manifest",
    "canister not hosted",
    "random bytes",
    "random database",
    "truncated database",
    "unrelated schema",
    "newer schema version",
    "foreign trigger",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_archive_is_refused_with_reason_and_nothing_changes(
    case: str, emu: EmulatorProcess, stored: tuple[str, str], good_snapshot: bytes, tmp_path: Path
) -> None:
    body, status, reason = _bad_archives(good_snapshot, tmp_path)[case]
    with AdminClient(emu.admin_url) as admin:
        clock_before = admin.clock(DEFAULT_ID)["clock_offset_ns"]
    answer = _restore(emu, body)
    assert answer.status_code == status, answer.text
    assert reason in answer.json()["error"]
    _assert_unchanged(emu, stored)
    with AdminClient(emu.admin_url) as admin:
        assert admin.clock(DEFAULT_ID)["clock_offset_ns"] == clock_before


def test_zip_bomb_is_refused_from_its_headers_without_expanding(
    emu: EmulatorProcess, stored: tuple[str, str], good_snapshot: bytes
) -> None:
    """1 GiB of zeros deflates to about 1 MiB; the ratio cap refuses it before one byte is extracted."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", _members(good_snapshot)["manifest.json"])
        with zf.open(f"canisters/{DEFAULT_ID}.sqlite3", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(1024):
                member.write(zeros)
    bomb = buf.getvalue()
    assert len(bomb) < 2 << 20
    answer = _restore(emu, bomb)
    assert answer.status_code == 413
    assert "expands 1073741824 bytes" in answer.json()["error"]
    assert "zip bomb" in answer.json()["error"]
    _assert_unchanged(emu, stored)
    state_bytes = sum(p.stat().st_size for p in emu.state_dir.rglob("*") if p.is_file())
    assert state_bytes < 256 << 20


def test_empty_and_wrongly_typed_uploads_are_refused(emu: EmulatorProcess, stored: tuple[str, str]) -> None:
    assert _restore(emu, b"").status_code == 400
    answer = httpx.put(f"{emu.admin_url}/snapshot", content=b"PK", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415
    _assert_unchanged(emu, stored)


def test_valid_snapshot_round_trips(
    emu: EmulatorProcess, stored: tuple[str, str], good_snapshot: bytes
) -> None:
    later_data = os.urandom(50_000)
    later = new_id()
    upload(make_client(emu.url), later, later_data)
    assert downloaded_sha256(emu.admin_url, later) == sha256(later_data)
    answer = _restore(emu, good_snapshot)
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["restored"]) == sorted([DEFAULT_ID, EXAMPLE_ID])
    _assert_unchanged(emu, stored)
    with AdminClient(emu.admin_url) as admin, pytest.raises(AdminError, match="404"):
        b"".join(admin.download_asset(DEFAULT_ID, later))


def test_leftover_work_dirs_are_removed_at_start(tmp_path: Path) -> None:
    proc = EmulatorProcess(tmp_path / "state", extra_args=["--quiet"])
    proc.start()
    proc.stop()
    leftover = tmp_path / "state" / "tmp" / "restore-killed"
    leftover.mkdir(parents=True)
    (leftover / "upload.zip").write_bytes(os.urandom(1 << 20))
    (tmp_path / "state" / "tmp" / "snapshot-killed.zip").write_bytes(b"x")
    proc.start()
    try:
        assert list((tmp_path / "state" / "tmp").iterdir()) == []
    finally:
        proc.stop()


def _start_upload(emu: EmulatorProcess, declared: int, sent: bytes) -> socket.socket:
    """A PUT /snapshot whose body stops after `sent`: the server is inside the upload."""
    parts = urlsplit(emu.admin_url)
    assert parts.hostname is not None and parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port), timeout=HANG_GUARD_S)
    head = (
        f"PUT /snapshot HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/zip\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    sock.sendall(head + sent)
    return sock


def _wait_for_empty_work_dir(emu: EmulatorProcess) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    work = emu.state_dir / "tmp"
    while work.exists() and list(work.iterdir()):
        assert time.monotonic() < deadline, list(work.iterdir())
        time.sleep(0.05)


def test_second_restore_waits_its_turn_and_interrupted_upload_leaves_nothing(
    emu: EmulatorProcess, stored: tuple[str, str], good_snapshot: bytes
) -> None:
    sock = _start_upload(emu, 10 << 20, good_snapshot[:100_000])
    try:
        deadline = time.monotonic() + HANG_GUARD_S
        while True:  # the first upload has begun once its work dir exists
            work = emu.state_dir / "tmp"
            if work.exists() and any(work.iterdir()):
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = _restore(emu, good_snapshot)
        assert second.status_code == 409
        assert second.json()["error"] == "another restore is running; try again when it has finished"
    finally:
        sock.close()  # the client goes away mid-body
    _wait_for_empty_work_dir(emu)
    _assert_unchanged(emu, stored)
    assert _restore(emu, good_snapshot).status_code == 200
    _assert_unchanged(emu, stored)


def test_no_refusal_reached_the_catch_all(emu: EmulatorProcess) -> None:
    assert emu.log_path is not None
    log = emu.log_path.read_text()
    assert "Traceback" not in log and "internal error" not in log
