"""The ``edges`` profile: GalleryStorers keep storage_edges in a real PostgreSQL; the audit finds no drift.

"Nothing lost" on the Web2 side: after a short Locust run (scripts/loadtest.sh, as CI runs load
tests) against an emulator this test owns, ``storeforever edges audit`` runs once per storer, as that
storer (presence answers only for the caller's own memories) and scoped to its galleries, and must
report zero drift; no edge is left ``migrating``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from clients.cli import main
from clients.edges.devcluster import Cluster, ClusterUnavailable, throwaway_cluster
from emulator.process import DEFAULT_ID, EmulatorProcess
from loadtests.profile import load_profile
from tests.system_deps import missing

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    try:
        context = throwaway_cluster()
        running = context.__enter__()
    except ClusterUnavailable as exc:
        missing(str(exc))
        raise
    try:
        yield running
    finally:
        context.__exit__(None, None, None)


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_edges_profile_leaves_a_table_the_audit_finds_clean(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = cluster.create_database()
    code, doc = cli_json(capsys, "edges", "init-dev", "--database-url", db)
    assert code == 0, doc
    profile = load_profile("edges")
    emulator = EmulatorProcess(
        tmp_path / "state",
        canisters=[f"artifact={DEFAULT_ID}"],
        extra_args=["--quiet", *profile.emulator.args()],
    ).start()
    identities = tmp_path / "identities"
    try:
        proc = subprocess.run(
            [
                "bash",
                "scripts/loadtest.sh",
                "--profile",
                "edges",
                "--url",
                emulator.url,
                "--canister-id",
                DEFAULT_ID,
                "--report-dir",
                str(tmp_path / "reports"),
                "--",
                "--run-time",
                "15s",
                "--database-url",
                db,
                "--edges-identity-dir",
                str(identities),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = proc.stdout[-6000:] + proc.stderr[-6000:]
        assert proc.returncode == 0, output
        assert "SLO gates of profile edges: PASSED" in proc.stdout

        keys = sorted(identities.glob("*.pem"))
        assert len(keys) == profile.gallery.count
        with psycopg.connect(db) as conn:
            galleries = conn.execute("SELECT owner_id, COUNT(*) FROM galleries GROUP BY 1").fetchall()
            states = conn.execute(
                "SELECT sync_state, present, COUNT(*) FROM storage_edges GROUP BY 1, 2"
            ).fetchall()
        assert {owner for owner, _ in galleries} == {k.stem for k in keys}, "each storer stored galleries"
        stored = sum(n for _, n in galleries)
        assert states == [("idle", True, stored * profile.gallery.gallery_size * 2)], states

        for key in keys:
            code, doc = cli_json(
                capsys,
                "edges",
                "audit",
                "--database-url",
                db,
                "--url",
                emulator.url,
                "--canister-id",
                DEFAULT_ID,
                "--identity",
                str(key),
                "--owner",
                key.stem,
            )
            result = doc["result"]
            assert isinstance(result, dict)
            assert code == 0 and result["clean"] is True, result
            assert (
                result["memories_checked"] > 0 and result["edges_checked"] == 2 * result["memories_checked"]
            )
    finally:
        emulator.stop()
