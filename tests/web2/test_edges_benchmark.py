"""The apply benchmark runs and its figures are consistent (quick mode: correctness only, no timings)."""

from __future__ import annotations

from benchmarks.edges_apply import run, run_audit
from tests.web2.conftest import Cluster


def test_benchmark_quick_mode_produces_every_figure(pg_cluster: Cluster) -> None:
    figures = run(400, 1, pg_cluster.url())
    assert figures["rows"] == 400 and figures["file_bytes"] > 400 * 100
    for key in ("apply_seconds", "copy_seconds", "reapply_unchanged_seconds", "apply_to_copy_ratio"):
        assert figures[key] > 0, key
    audit = run_audit(400, pg_cluster.url())
    assert (audit["edges"], audit["memories"], audit["presence_pages"]) == (400, 200, 2)
    assert audit["audit_seconds"] > 0 and audit["audit_and_fix_seconds"] > 0
