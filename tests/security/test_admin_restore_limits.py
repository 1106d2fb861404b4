"""Restore caps and the all-or-nothing swap, on an admin app served in-process over real HTTP.

The production caps (64 GiB, free disk space) are too big to exceed in a test, so these tests build
the same admin app with small `RestoreLimits` and serve it on a real socket; the swap test drives
`swap_in` with real canister hosts and real SQLite files, making the second canister's swap fail
with an I/O error (its database path is a directory) after the first one was swapped.
"""

from __future__ import annotations

import io
import os
import sqlite3
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp.test_utils import TestServer

from emulator.canisters import load_kind
from emulator.principal import Principal
from emulator.runtime.host import CanisterHost, Replied
from emulator.server.admin import create_admin_app, swap_in
from emulator.server.app import build_replica
from emulator.server.app_keys import ADMIN_LISTENER
from emulator.server.config import CanisterSpec, EmulatorConfig
from emulator.server.metrics import EmulatorMetrics
from emulator.server.replica import Replica
from emulator.server.snapshot_archive import RestoreLimits
from tests.emulator_process import DEFAULT_ID, EXAMPLE_ID

ZIP = {"Content-Type": "application/zip"}
EMPTY_ARGS = b"DIDL\x00\x00"
LIMITS = RestoreLimits(
    max_upload_bytes=300_000, max_extracted_bytes=200_000, ratio_floor_bytes=10_000, free_space_margin_bytes=0
)


def _replica(state: Path) -> Replica:
    config = EmulatorConfig(
        state_dir=state,
        canisters=(
            CanisterSpec("example", Principal.from_text(EXAMPLE_ID)),
            CanisterSpec("artifact", Principal.from_text(DEFAULT_ID)),
        ),
        log_calls=False,
    )
    return build_replica(config)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    replica = _replica(tmp_path / "state")
    work = tmp_path / "state" / "tmp"
    app = create_admin_app(replica, EmulatorMetrics(), None, work_dir=work, restore_limits=LIMITS)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    app[ADMIN_LISTENER].port = server.port
    try:
        yield f"http://127.0.0.1:{server.port}", work
    finally:
        await server.close()
        replica.close()


def _leftovers(work: Path) -> list[str]:
    return sorted(str(p.relative_to(work)) for p in work.rglob("*")) if work.exists() else []


async def test_upload_over_the_cap_is_refused(served: tuple[str, Path]) -> None:
    url, work = served
    async with httpx.AsyncClient(base_url=url, headers=ZIP, timeout=60) as http:
        declared = await http.put("/snapshot", content=bytes(350_000))
        assert declared.status_code == 413
        assert "snapshot upload of 350000 bytes exceeds the 300000 bytes allowed" in declared.json()["error"]

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(35):
                yield bytes(10_000)

        streamed = await http.put("/snapshot", content=chunks())
        assert streamed.status_code == 413
        assert "snapshot upload exceeds the 300000 bytes allowed" in streamed.json()["error"]
    assert _leftovers(work) == []


def _archive(member: bytes, compression: int) -> bytes:
    buf = io.BytesIO()
    manifest = {
        "format": 1,
        "canisters": {
            DEFAULT_ID: {"canister_id": DEFAULT_ID, "kind": "artifact", "version": "1", "module_hash": "00"}
        },
    }
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        zf.writestr("manifest.json", repr(manifest).replace("'", '"'))
        zf.writestr(f"canisters/{DEFAULT_ID}.sqlite3", member)
    return buf.getvalue()


def _lie_about_size(archive: bytes, true_size: int, claimed: int) -> bytes:
    """Rewrites the member's uncompressed size in its local header and central directory entry."""
    real, fake = true_size.to_bytes(4, "little"), claimed.to_bytes(4, "little")
    assert archive.count(real) == 2
    return archive.replace(real, fake)


async def test_extracted_size_cap_and_lying_headers(served: tuple[str, Path]) -> None:
    url, work = served
    async with httpx.AsyncClient(base_url=url, headers=ZIP, timeout=60) as http:
        # Stored (ratio 1:1) but more than the extraction cap allows once expanded: refused from headers.
        stored = _archive(os.urandom(240_000), zipfile.ZIP_STORED)
        big = await http.put("/snapshot", content=stored)
        assert big.status_code == 413
        assert "more than the 200000 bytes allowed" in big.json()["error"]
        # A header claiming 1,000 bytes for 150,000 deflated zeros: extraction stops at the claim.
        lying = _lie_about_size(_archive(bytes(150_000), zipfile.ZIP_DEFLATED), 150_000, 1_000)
        answer = await http.put("/snapshot", content=lying)
        assert answer.status_code == 400
        assert "archive is damaged" in answer.json()["error"]
    assert _leftovers(work) == []


def _counter(host: CanisterHost) -> int:
    outcome = host.query(sender=Principal.anonymous(), method="get", arg=EMPTY_ARGS)
    assert isinstance(outcome, Replied)
    return int.from_bytes(outcome.arg[-8:], "little")


def _inc(host: CanisterHost, n: int) -> None:
    for i in range(n):
        host.call(
            request_id=i.to_bytes(32, "big"),
            sender=Principal.anonymous(),
            method="inc",
            arg=EMPTY_ARGS,
            ingress_expiry=2**62,
        )


async def test_failed_second_swap_rolls_the_first_back(tmp_path: Path) -> None:
    replica = _replica(tmp_path / "state")
    try:
        example = replica.hosts[Principal.from_text(EXAMPLE_ID)]
        artifact = replica.hosts[Principal.from_text(DEFAULT_ID)]
        assert load_kind("example") is example.canister_cls
        snapshot_db = tmp_path / "example-snapshot.sqlite3"
        await replica.run_on(example.canister_id, lambda: _inc(example, 1))
        await replica.run_on(example.canister_id, lambda: example.store.backup_to(snapshot_db))
        await replica.run_on(example.canister_id, lambda: _inc(example, 3))
        assert _counter(example) == 3  # request ids 0..2 again: id 0 was answered from its record
        unreadable = tmp_path / "not-a-database"
        unreadable.mkdir()
        work = tmp_path / "work"
        work.mkdir()
        with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
            await swap_in(
                replica,
                {example.canister_id: snapshot_db, artifact.canister_id: unreadable},
                work,
            )
        assert _counter(example) == 3  # the example canister's swap to 1 was undone
        await replica.run_on(example.canister_id, lambda: _inc(example, 5))
        assert _counter(example) == 5
        assert artifact.query(sender=Principal.anonymous(), method="get_api_version", arg=EMPTY_ARGS)
    finally:
        replica.close()
