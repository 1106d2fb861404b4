"""The suite's reports and parity tooling: matrix files, results JSON, JUnit, `--compare`, snapshots."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conformance_meta.suite import REPO, SuiteRun, run_suite

SUBSET = ["conformance/test_interface.py", "conformance/test_errors.py", "conformance/test_galleries.py"]


@pytest.fixture(scope="module")
def subset_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, Path]:
    report = tmp_path_factory.mktemp("report")
    snapshots = tmp_path_factory.mktemp("snapshots")
    run = run_suite([*SUBSET, "--snapshot-update", "--snapshot-dir", str(snapshots)], report, quiet=False)
    assert run.returncode == 0, run.output[-3000:]
    return run, report


def _compare(a: Path, b: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.report", "--compare", str(a), str(b), *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_header_names_the_target(subset_run: tuple[SuiteRun, Path]) -> None:
    run, _ = subset_run
    assert "conformance target: emulator (emulator) http://127.0.0.1:" in run.output
    assert "capabilities: clock, inspect, upgrade" in run.output


def test_matrix_files(subset_run: tuple[SuiteRun, Path]) -> None:
    run, report = subset_run
    md = (report / "conformance-matrix.md").read_text()
    assert "## By requirement" in md and "## By seed task" in md
    assert "| 22.1 | structured errors |" in md
    assert "| 1.1 | error model |" in md
    assert "conformance/test_errors.py::test_unauthorized_envelope" in md
    html = (report / "conformance-matrix.html").read_text()
    assert (
        html.startswith("<!doctype html>")
        and "<style>" in html
        and "<link" not in html
        and "<script" not in html
    )
    assert "test_unauthorized_envelope" in html
    junit = (report / "junit.xml").read_text()
    assert junit.count("<testcase") == len(run.outcomes())
    assert 'name="task" value="1.1"' in junit


def test_results_json(subset_run: tuple[SuiteRun, Path]) -> None:
    run, _ = subset_run
    data = run.results
    assert data["format"] == "storeforever-conformance/1"
    assert data["counts"]["passed"] == len(run.outcomes()) > 30
    result = run.result("conformance/test_errors.py::test_unauthorized_envelope")
    assert result["reqs"] == ["17.3", "22.1"] and result["tasks"] == ["1.1"]
    assert result["rule"].startswith("An anonymous write answers")
    assert result["snapshot"]["status"] == "recorded"
    (reply,) = result["replies"]
    assert reply["call"] == "upsert_metadata" and reply["as"] == "anonymous"
    assert reply["reply"] == {"success": False, "data": [], "error": [{"Unauthorized": None}]}
    assert reply["args"][0] == "<uuid:1>"


def _planted(source: Path, target: Path, edit: Any) -> Path:
    data = json.loads(source.read_text())
    edit(data)
    target.write_text(json.dumps(data))
    return target


def test_compare_lists_every_divergence(subset_run: tuple[SuiteRun, Path], tmp_path: Path) -> None:
    _, report = subset_run
    a = report / "conformance-results.json"
    same = _compare(a, a)
    assert same.returncode == 0 and "no divergences" in same.stdout

    def plant(data: dict[str, Any]) -> None:
        data["target"]["name"] = "replica"
        by_id = {r["nodeid"]: r for r in data["results"]}
        failed = by_id["conformance/test_galleries.py::test_update_of_unknown_gallery_is_not_found"]
        failed["outcome"], failed["message"] = "failed", "AssertionError: expected Gallery not found"
        other = by_id["conformance/test_errors.py::test_internal_envelope_carries_text"]
        other["replies"][0]["reply"]["error"][0]["Internal"] = "invalid uuid"
        data["results"].remove(by_id["conformance/test_interface.py::test_api_version_is_text"])

    b = _planted(a, tmp_path / "b.json", plant)
    done = _compare(a, b)
    assert done.returncode == 1
    out = done.stdout
    assert "3 divergence(s) between emulator and replica" in out
    assert "conformance/test_galleries.py::test_update_of_unknown_gallery_is_not_found\n  outcome: " in out
    assert "replica: failed (AssertionError: expected Gallery not found)" in out
    internal = "conformance/test_errors.py::test_internal_envelope_carries_text"
    assert f"{internal}\n  replies: $[0].reply.error[0].Internal" in out
    assert "'invalid uuid'" in out or "invalid uuid" in out
    assert "conformance/test_interface.py::test_api_version_is_text\n  missing: only run on emulator" in out
    as_json = json.loads(_compare(a, b, "--json").stdout)
    assert {d["kind"] for d in as_json} == {"outcome", "replies", "missing"}


def test_matrix_of_two_runs(subset_run: tuple[SuiteRun, Path], tmp_path: Path) -> None:
    _, report = subset_run
    a = report / "conformance-results.json"

    def rename(data: dict[str, Any]) -> None:
        data["target"]["name"] = "dfx-backend"
        data["results"][0]["outcome"] = "not-implemented"
        data["results"][0]["reason"] = "not implemented by target: whoami"

    b = _planted(a, tmp_path / "b.json", rename)
    out = tmp_path / "matrix"
    done = subprocess.run(
        [sys.executable, "-m", "conformance.report", "--matrix", str(a), str(b), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    md = (out / "conformance-matrix.md").read_text()
    assert "|  | rule | emulator | dfx-backend |" in md
    assert "not implemented" in md
    assert (out / "conformance-matrix.html").is_file()


def test_snapshot_compare_finds_a_changed_reply(subset_run: tuple[SuiteRun, Path], tmp_path: Path) -> None:
    """Replay against recorded snapshots: unchanged replies match; a reply changed in the snapshot
    file is listed as a difference (in results and matrix), and fails the test with --snapshot-strict."""
    run, _ = subset_run
    snapshot_dir = Path(run.results["argv"][run.results["argv"].index("--snapshot-dir") + 1])
    planted = tmp_path / "snapshots"
    shutil.copytree(snapshot_dir, planted)
    path = planted / "test_errors.json"
    data = json.loads(path.read_text())
    data["test_not_found_envelope"]["replies"][0]["reply"]["error"] = [{"Internal": "gone"}]
    path.write_text(json.dumps(data))
    compared = run_suite(
        ["conformance/test_errors.py", "--snapshot-compare", "--snapshot-dir", str(planted)], tmp_path / "r1"
    )
    assert compared.returncode == 0
    statuses = {r["nodeid"]: r["snapshot"]["status"] for r in compared.results["results"]}
    changed = "conformance/test_errors.py::test_not_found_envelope"
    assert statuses.pop(changed) == "differs"
    assert set(statuses.values()) == {"match"}
    diffs = compared.result(changed)["snapshot"]["diffs"]
    assert [d["path"] for d in diffs] == ["$[0].reply.error[0].Internal", "$[0].reply.error[0].NotFound"]
    assert (
        "Replies that differ from the snapshots (1 tests)"
        in (tmp_path / "r1" / "conformance-matrix.md").read_text()
    )
    strict = run_suite(
        [
            "conformance/test_errors.py",
            "-k",
            "not_found",
            "--snapshot-compare",
            "--snapshot-strict",
            "--snapshot-dir",
            str(planted),
        ],
        tmp_path / "r2",
    )
    assert strict.returncode == 1
    assert strict.result(changed)["outcome"] == "error"
    assert "replies differ from the snapshot" in strict.result(changed)["message"]


def test_committed_snapshots_cover_every_test_module() -> None:
    modules = {p.stem for p in (REPO / "conformance").glob("test_*.py")}
    recorded = {p.stem for p in (REPO / "conformance" / "snapshots").glob("*.json")}
    assert modules == recorded, "record them with: bash scripts/conformance.sh --snapshot-update"


def test_conformance_script_writes_reports_under_the_target_name() -> None:
    name = "meta-check-report-dir"
    report = REPO / "reports" / "conformance" / name
    shutil.rmtree(report, ignore_errors=True)
    try:
        done = subprocess.run(
            [
                "bash",
                "scripts/conformance.sh",
                "conformance/test_interface.py",
                "-k",
                "whoami",
                "-q",
                "--target-name",
                name,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**__import__("os").environ, "PYTHON": sys.executable},
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        results = json.loads((report / "conformance-results.json").read_text())
        assert results["target"]["name"] == name
        assert f"conformance reports: reports/conformance/{name}/conformance-matrix.md" in done.stdout
    finally:
        shutil.rmtree(report, ignore_errors=True)
