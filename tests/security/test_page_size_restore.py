"""Snapshots and restores across page sizes, through a real emulator process (issue 13, item 4).

New canister stores have 16 KiB pages; stores and snapshots made before have SQLite's default 4 KiB
ones, and SQLite's backup refuses to copy between the two into a WAL database. Before the store
handled it, the admin restore of an old archive into a new store and the management canister's
`load_canister_snapshot` of an old snapshot failed with "attempt to write a readonly database". Here
both paths run in both directions: the restored canister serves the snapshot's bytes (same SHA-256),
takes the snapshot's page size, accepts new uploads and keeps them across a SIGKILL.

An "old" store is made the way the old emulator made it (SQLite's default page size, then WAL mode)
before the emulator first starts on the state directory; an "old" management snapshot is the same
snapshot rewritten with 4 KiB pages (VACUUM), the file an old emulator would have written.
"""

from __future__ import annotations

import os
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clients.admin import AdminClient, AdminError
from clients.artifact import upload
from clients.ic import Connection
from emulator.principal import Principal
from emulator.runtime.stable_store import PAGE_SIZE
from tests.client.conftest import downloaded_sha256, make_client, new_id, sha256
from tests.e2e import management_client as mgmt
from tests.emulator_process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess
from tests.store_files import OLD_PAGE_SIZE, old_database, page_size_of

CANISTERS = [f"artifact={DEFAULT_ID}", f"example={EXAMPLE_ID}"]


def store_of(emu: EmulatorProcess) -> Path:
    return emu.state_dir / "canisters" / f"{DEFAULT_ID}.sqlite3"


def old_state(state: Path) -> Path:
    """A state directory whose canister stores were created with 4 KiB pages, as before."""
    (state / "canisters").mkdir(parents=True)
    for spec in CANISTERS:
        old_database(state / "canisters" / f"{spec.split('=')[1]}.sqlite3")
    return state


def repage(db: Path, page_size: int) -> None:
    """Rewrite a database file with other pages, the one way SQLite allows: VACUUM out of WAL mode."""
    conn = sqlite3.connect(db, isolation_level=None)
    wal = conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute(f"PRAGMA page_size={page_size}")
    conn.execute("VACUUM")
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    assert page_size_of(db) == page_size


def store_memory(emu: EmulatorProcess, size: int = 2_500_000) -> tuple[str, str]:
    """Uploads a memory of `size` bytes (several chunks, so blobs span many pages); (id, SHA-256)."""
    data = os.urandom(size)
    mid = new_id()
    assert upload(make_client(emu.url), mid, data).completed
    return mid, sha256(data)


def assert_absent(emu: EmulatorProcess, mid: str) -> None:
    with pytest.raises(AdminError) as missing:
        downloaded_sha256(emu.admin_url, mid)
    assert missing.value.status == 404


def archived_page_size(archive: Path, tmp: Path) -> int:
    with zipfile.ZipFile(archive) as zf:
        target = tmp / f"{archive.stem}-member.sqlite3"
        target.write_bytes(zf.read(f"canisters/{DEFAULT_ID}.sqlite3"))
    return page_size_of(target)


def emulator(state: Path, owner_pem: tuple[Path, Any]) -> EmulatorProcess:
    return EmulatorProcess(
        state, canisters=CANISTERS, extra_args=["--quiet", "--controller", str(owner_pem[0])]
    )


@pytest.fixture
def new_and_old(
    tmp_path: Path, owner_pem: tuple[Path, Any]
) -> Iterator[tuple[EmulatorProcess, EmulatorProcess]]:
    """Two emulators hosting the same canisters: one on a fresh state, one on a 4 KiB-page state."""
    with (
        emulator(tmp_path / "new", owner_pem) as new,
        emulator(old_state(tmp_path / "old"), owner_pem) as old,
    ):
        yield new, old


def test_admin_restore_across_page_sizes_both_ways(
    new_and_old: tuple[EmulatorProcess, EmulatorProcess], tmp_path: Path
) -> None:
    new, old = new_and_old
    assert page_size_of(store_of(new)) == PAGE_SIZE == 16384
    assert page_size_of(store_of(old)) == OLD_PAGE_SIZE  # the old store kept its pages and serves
    in_new, in_old = store_memory(new), store_memory(old)
    with AdminClient(new.admin_url) as new_admin, AdminClient(old.admin_url) as old_admin:
        new_archive = new_admin.snapshot(tmp_path / "new-snapshot.zip")
        old_archive = old_admin.snapshot(tmp_path / "old-snapshot.zip")
        assert archived_page_size(new_archive, tmp_path) == PAGE_SIZE
        assert archived_page_size(old_archive, tmp_path) == OLD_PAGE_SIZE

        assert new_admin.restore(old_archive) == {"restored": [DEFAULT_ID, EXAMPLE_ID]}
        assert old_admin.restore(new_archive) == {"restored": [DEFAULT_ID, EXAMPLE_ID]}

    for emu, restored, replaced, pages in (
        (new, in_old, in_new, OLD_PAGE_SIZE),
        (old, in_new, in_old, PAGE_SIZE),
    ):
        assert downloaded_sha256(emu.admin_url, restored[0]) == restored[1]
        assert_absent(emu, replaced[0])
        assert page_size_of(store_of(emu)) == pages  # the store took the snapshot's pages
        later = store_memory(emu)
        emu.kill()  # SIGKILL: what was acknowledged after the restore must survive it
        emu.start()
        assert downloaded_sha256(emu.admin_url, restored[0]) == restored[1]
        assert downloaded_sha256(emu.admin_url, later[0]) == later[1]
        assert page_size_of(store_of(emu)) == pages
        work = emu.state_dir / "tmp"
        assert not work.exists() or list(work.iterdir()) == []


def test_a_refused_restore_of_an_old_archive_changes_nothing(
    new_and_old: tuple[EmulatorProcess, EmulatorProcess], tmp_path: Path
) -> None:
    new, old = new_and_old
    kept = store_memory(new)
    store_memory(old)
    with AdminClient(old.admin_url) as old_admin:
        archive = old_admin.snapshot(tmp_path / "old-snapshot.zip")
    # The same old archive, with a database from newer code: the dry run refuses it.
    member = f"canisters/{DEFAULT_ID}.sqlite3"
    db = tmp_path / "old-member.sqlite3"
    with zipfile.ZipFile(archive) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    db.write_bytes(members[member])
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("UPDATE af_meta SET value = 99 WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    assert page_size_of(db) == OLD_PAGE_SIZE
    members[member] = db.read_bytes()
    refused = tmp_path / "refused.zip"
    with zipfile.ZipFile(refused, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with AdminClient(new.admin_url) as new_admin, pytest.raises(AdminError) as error:
        new_admin.restore(refused)
    assert error.value.status == 409
    assert downloaded_sha256(new.admin_url, kept[0]) == kept[1]
    assert page_size_of(store_of(new)) == PAGE_SIZE


@pytest.mark.parametrize(
    ("start_old", "snapshot_pages"),
    [(False, OLD_PAGE_SIZE), (True, PAGE_SIZE)],
    ids=["old snapshot into a new store", "new snapshot into an old store"],
)
def test_load_canister_snapshot_across_page_sizes(
    tmp_path: Path, owner_pem: tuple[Path, Any], start_old: bool, snapshot_pages: int
) -> None:
    state = old_state(tmp_path / "state") if start_old else tmp_path / "state"
    store_pages = OLD_PAGE_SIZE if start_old else PAGE_SIZE
    cid = {"canister_id": Principal.from_text(DEFAULT_ID)}
    with emulator(state, owner_pem) as emu:
        owner = Connection(emu.url, owner_pem[1])
        assert page_size_of(store_of(emu)) == store_pages
        kept = store_memory(emu)
        taken = mgmt.call(owner, DEFAULT_ID, "take_canister_snapshot", cid)
        snapshot_file = state / "snapshots" / DEFAULT_ID / f"{bytes(taken['id']).hex()}.sqlite3"
        assert page_size_of(snapshot_file) == store_pages
        emu.stop()
        repage(snapshot_file, snapshot_pages)  # as the emulator of the other page size wrote it
        emu.start()
        owner = Connection(emu.url, owner_pem[1])
        dropped = store_memory(emu)

        mgmt.call(owner, DEFAULT_ID, "stop_canister", cid)
        mgmt.call(owner, DEFAULT_ID, "load_canister_snapshot", {**cid, "snapshot_id": taken["id"]})
        mgmt.call(owner, DEFAULT_ID, "start_canister", cid)

        assert downloaded_sha256(emu.admin_url, kept[0]) == kept[1]
        assert_absent(emu, dropped[0])
        assert page_size_of(store_of(emu)) == snapshot_pages
        status = mgmt.call(owner, DEFAULT_ID, "canister_status", cid)
        assert status["status"] == {"running": None}
        assert status["memory_metrics"]["stable_memory_size"] % snapshot_pages == 0
        later = store_memory(emu)
        emu.kill()
        emu.start()
        assert downloaded_sha256(emu.admin_url, later[0]) == later[1]
        assert downloaded_sha256(emu.admin_url, kept[0]) == kept[1]
