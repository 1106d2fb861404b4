"""The Markdown recorded in docs/loadtests.md is rendered from a run's gate JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from loadtests.report import main, render_markdown
from loadtests.slo import MethodStats


def write_run(directory: Path) -> None:
    methods = [
        MethodStats("update", "put_chunk", 600, 0, 40.0, 120.0, 200.0, avg=50.0, rps=10.0, max=400.0),
        MethodStats("gallery", "gallery:store_1000", 2, 0, 45000.0, 47000.0, 47000.0, 45500.0, 0.03, 47100.0),
        MethodStats("invariant", "invariant:max_active_sessions", 30, 0, 0.0, 0.0, 0.0, rps=0.5),
    ]
    run = {
        "profile": "full",
        "passed": True,
        "users": {"GalleryStorer": 2, "RateLimitProber": 3},
        "workers": 2,
        "gallery_event": "gallery:store_1000",
        "gates": [
            {
                "gate": "rate-limit invariant",
                "threshold": "x",
                "observed": "held in 30 checks",
                "passed": True,
            }
        ],
        "duration_s": 60.0,
        "total_requests": 632,
        "total_failures": 0,
        "methods": [asdict(m) for m in methods],
    }
    (directory / "full_gates.json").write_text(json.dumps(run))


def test_markdown_has_users_rates_percentiles_gallery_time_and_invariant(tmp_path: Path) -> None:
    write_run(tmp_path)
    text = render_markdown(tmp_path)
    assert "5 users (GalleryStorer x2, RateLimitProber x3), 2 workers + 1 master" in text
    assert "600 canister calls = **10.0 calls/s**" in text
    assert "| update | `put_chunk` | 600 | 0 | 10.00 | 40 | 120 | 200 | 400 |" in text
    assert "| gallery | `gallery:store_1000` | 2 | 0 | 0.03 | 45.0 s | 47.0 s | 47.0 s | 47.1 s |" in text
    assert "2 galleries, median 45.0 s, mean 45.5 s, max 47.1 s" in text
    assert "held in 30 checks" in text
    # canister calls first, then the whole-operation and invariant rows
    assert text.index("`put_chunk`") < text.index("`gallery:store_1000`")


def test_cli_reports_a_missing_run(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 1
    assert main([]) == 2
