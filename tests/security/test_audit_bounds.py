"""Refused calls cost the attacker more than the emulator: what they leave behind is bounded.

Before: an anonymous `begin_asset_upload` with a 1.9 MB memory id stored the id verbatim in the audit
trail (10 calls, 19 MB; 16 calls filled a 64 MiB disk). Now the row keeps 80 characters and the
original length, and the trail keeps only the newest `audit_retention_rows` rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.admin import AdminClient
from clients.ic import Connection, generate_ed25519
from tests.e2e.artifact_calls import CANISTER, Artifact, new_id, sha
from tests.emulator_process import EmulatorProcess
from tests.security.conftest import probe_status

ANONYMOUS = "2vxsx-fae"
HUGE_ID_CHARS = 1_900_000


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("audit") / "state",
        canisters=[f"artifact={CANISTER}"],
        extra_args=["--quiet", "--limit", "audit_retention_rows=5"],
    ) as proc:
        yield proc


def _store_bytes(state_dir: Path) -> int:
    return sum(p.stat().st_size for p in (state_dir / "canisters").glob(f"{CANISTER}.sqlite3*"))


def test_a_huge_caller_supplied_id_leaves_a_small_audit_row(emu: EmulatorProcess) -> None:
    anonymous = Artifact(Connection(emu.url))
    admin = AdminClient(emu.admin_url)
    huge = "x" * HUGE_ID_CHARS
    before = _store_bytes(emu.state_dir)

    for _ in range(10):
        refused = anonymous.error("begin_asset_upload", huge, sha(b"x"), 1, 1)
        assert "Unauthorized" in refused or "Internal" in refused, refused

    rows = admin.inspect(CANISTER, "audit", principal=ANONYMOUS)["audit"]
    assert rows, "refused anonymous calls are still audited"
    for row in rows:
        assert row["memory_id"] is None or len(row["memory_id"]) <= 120, len(row["memory_id"])
        assert row["memory_id"] is None or row["memory_id"].endswith(f"(+{HUGE_ID_CHARS - 80} chars)")
    # Ten 1.9 MB ids used to add 19 MB; what grows now is pages of small rows and request statuses.
    assert _store_bytes(emu.state_dir) - before < 2_000_000
    assert probe_status(emu.url) == 200


def test_the_trail_keeps_only_the_newest_rows(emu: EmulatorProcess) -> None:
    art = Artifact(Connection(emu.url, generate_ed25519()))
    admin = AdminClient(emu.admin_url)
    principal = art.conn.identity.sender().to_str()
    for _ in range(30):
        art.error("begin_asset_upload", "not-a-uuid", sha(b"x"), 1, 1)

    rows = admin.inspect(CANISTER, "audit", principal=principal, limit="100")["audit"]
    everyone = admin.inspect(CANISTER, "audit", limit="100")["audit"]
    assert len(everyone) == 5  # audit_retention_rows=5
    assert len(rows) == 5 and rows == everyone  # the newest five are this caller's, newest first
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)


def test_a_valid_id_is_recorded_whole(emu: EmulatorProcess) -> None:
    art = Artifact(Connection(emu.url, generate_ed25519()))
    admin = AdminClient(emu.admin_url)
    memory_id = new_id()
    art.ok("begin_asset_upload", memory_id, sha(b"abc"), 1, 3)
    rows = admin.inspect(CANISTER, "audit", memory_id=memory_id)["audit"]
    assert [r["memory_id"] for r in rows] == [memory_id]
