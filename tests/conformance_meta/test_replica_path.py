"""The replica code path in CI: the suite pointed at an emulator somebody else started, exactly as at
a dfx replica (URL, canister id, PEM identity, an upgrade *command*), with no admin URL, so the clock
and inspection capabilities are absent and their tests must be skipped with that reason."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.ic import generate_ed25519, principal_of, save_pem
from emulator.process import DEFAULT_ID, EmulatorProcess
from tests.conformance_meta.suite import REPO, SuiteRun, run_suite

pytestmark = pytest.mark.slow

LIMITS = REPO / "conformance" / "emulator-limits.json"


@pytest.fixture(scope="module")
def replica_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SuiteRun, str, Path]]:
    root = tmp_path_factory.mktemp("replica-path")
    proc = EmulatorProcess(
        root / "state", canisters=[f"artifact={DEFAULT_ID}"], extra_args=["--config", str(LIMITS)]
    )
    proc.start()
    try:
        identity = generate_ed25519()
        pem = root / "identity.pem"
        save_pem(identity, pem)
        # The limits the canister was built with travel in a profile, as they would for a dfx build.
        profile = root / "profile.toml"
        limits = json.loads(LIMITS.read_text())
        profile.write_text(
            'name = "emulator-as-replica"\n[limits]\n' + "".join(f"{k} = {v}\n" for k, v in limits.items())
        )
        python = shlex.quote(sys.executable)
        upgrade = f"{python} -m storeforever emulator upgrade --admin-url {proc.admin_url}"
        run = run_suite(
            [
                "conformance",
                "--target",
                "replica",
                "--url",
                proc.url,
                "--canister-id",
                DEFAULT_ID,
                "--identity",
                str(pem),
                "--upgrade-command",
                upgrade,
                "--profile",
                str(profile),
                "--snapshot-compare",
            ],
            root / "report",
            timeout=600,
        )
        yield run, principal_of(identity), root / "report"
    finally:
        proc.stop()


def test_everything_passes_or_is_skipped_for_a_capability(replica_run: tuple[SuiteRun, str, Path]) -> None:
    run, _, _ = replica_run
    assert run.returncode == 0, run.output[-4000:]
    counts = run.results["counts"]
    assert counts["failed"] == counts["error"] == counts["not-implemented"] == 0, counts
    assert counts["passed"] > 200, counts
    assert set(run.outcomes().values()) == {"passed", "skipped-capability"}


def test_the_target_is_described_as_a_replica(replica_run: tuple[SuiteRun, str, Path]) -> None:
    run, principal, _ = replica_run
    target = run.results["target"]
    assert (target["kind"], target["name"], target["canister_id"]) == (
        "replica",
        "emulator-as-replica",
        DEFAULT_ID,
    )
    assert target["principal"] == principal, "the --identity PEM is the caller the preflight saw"
    assert target["capabilities"] == ["upgrade"]
    assert target["upgrade"].startswith("command: ")
    assert target["interface_source"].startswith("candid:service metadata")
    assert target["limits"]["daily_upload_quota"] == {"value": 12, "source": "stated"}
    assert "conformance target: emulator-as-replica (replica)" in run.output or run.returncode == 0


def test_clock_and_inspect_tests_are_skipped_with_the_reason(replica_run: tuple[SuiteRun, str, Path]) -> None:
    run, _, _ = replica_run
    skipped = {r["nodeid"]: r for r in run.results["results"] if r["outcome"] == "skipped-capability"}
    clock_tests = {r["nodeid"] for r in run.results["results"] if "clock" in r["needs"]}
    assert clock_tests and clock_tests <= set(skipped)
    assert "conformance/test_expiry.py::test_put_chunk_after_the_lifetime" in clock_tests
    for nodeid, r in skipped.items():
        assert r["reason"].startswith("target lacks capability: "), (nodeid, r["reason"])
        assert any(cap in r["reason"] for cap in ("clock", "inspect", "scale")), (nodeid, r["reason"])


def test_upgrades_ran_through_the_command(replica_run: tuple[SuiteRun, str, Path]) -> None:
    """The persistence tests ran (not skipped) on this target: the upgrade command worked."""
    run, _, _ = replica_run
    persistence = {n: o for n, o in run.outcomes().items() if n.startswith("conformance/test_persistence.py")}
    assert persistence and set(persistence.values()) == {"passed"}, persistence


def test_reports_are_written(replica_run: tuple[SuiteRun, str, Path]) -> None:
    _, _, report = replica_run
    for name in ("conformance-results.json", "conformance-matrix.md", "conformance-matrix.html", "junit.xml"):
        assert (report / name).is_file(), name
    junit = (report / "junit.xml").read_text()
    assert 'name="requirement" value="22.2"' in junit
    html = (report / "conformance-matrix.html").read_text()
    assert (
        html.startswith("<!doctype html>") and "<script" not in html and "http" not in html.split("<body>")[0]
    )


def test_replies_match_the_committed_snapshots(replica_run: tuple[SuiteRun, str, Path]) -> None:
    """Parity in CI: the replica path's normalised replies equal the snapshots recorded against the
    emulator (same code behind both). A difference means the emulator's replies changed: re-record
    with `bash scripts/conformance.sh --snapshot-update` and review the diff of conformance/snapshots."""
    run, _, _ = replica_run
    statuses: dict[str, list[str]] = {}
    for r in run.results["results"]:
        statuses.setdefault(r["snapshot"]["status"], []).append(r["nodeid"])
    assert not statuses.get("differs"), [
        (r["nodeid"], r["snapshot"]["diffs"][:3])
        for r in run.results["results"]
        if r["snapshot"]["status"] == "differs"
    ]
    assert not statuses.get("missing"), statuses.get("missing")
    assert len(statuses["match"]) > 200
