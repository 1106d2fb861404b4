"""CI's quick mode of the benchmarks: every stage runs once with tiny sizes so none of them can rot.

Correctness only: each stage must complete (its own asserts check the uploads, the gallery, the
codecs' round trips) and produce every figure the report needs. No figure is compared with anything:
timing assertions do not belong in tests on a shared machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.report import BEGIN, END, render, write_report
from benchmarks.run import STAGES, run_all

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_all(quick=True, out_dir=tmp_path_factory.mktemp("bench"))


def test_every_stage_ran(results: dict[str, Any]) -> None:
    assert set(STAGES) <= set(results)
    assert results["quick"] is True
    assert results["machine"]["cores"] >= 1


def test_round_trips_and_floors(results: dict[str, Any]) -> None:
    rt = results["roundtrip"]
    for name in ("update", "update_floor", "query", "query_floor", "server_update", "server_query"):
        assert rt[name]["p50_ms"] > 0 and rt[name]["p95_ms"] >= rt[name]["p50_ms"]
    assert rt["update_ratio_p50"] > 0 and rt["query_ratio_p50"] > 0


def test_codec_figures(results: dict[str, Any]) -> None:
    codec = results["codec"]
    for side in ("emulator", "client"):
        for op in ("encode", "decode"):
            for payload in ("blob", "entries"):
                assert codec[f"{side}_{op}_{payload}"]["ratio"] > 0


def test_upload_and_gallery(results: dict[str, Any]) -> None:
    for concurrency in (1, 4, 8):
        figure = results["upload"][f"c{concurrency}"]
        assert figure["mb_s"] > 0 and figure["floor_mb_s"] > 0
    gallery = results["gallery"]
    assert gallery["edges"] == 2 * gallery["memories"]
    assert gallery["updates"] >= 4 * gallery["memories"]


def test_scaling_startup_rss(results: dict[str, Any]) -> None:
    assert results["scaling"]["presence_100_ms"]["ratio"] > 0
    assert results["startup"]["empty_ms"] > 0 and results["startup"]["full_ms"] > 0
    assert results["upload_rss"]["peak_mib"] >= results["upload_rss"]["baseline_mib"]


def test_report_renders_and_replaces_only_its_section(results: dict[str, Any], tmp_path: Path) -> None:
    table = render(results)
    assert "quick mode" in table
    assert table.count("| ") > 20
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Title\n\nhand-written\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    write_report(doc, table)
    text = doc.read_text()
    assert "hand-written" in text and "after" in text and "old" not in text
    assert text.count(BEGIN) == 1 and table in text
