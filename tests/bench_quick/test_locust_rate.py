"""`benchmarks.locust_rate` in CI's quick mode: one short round of a real Locust worker, so it cannot rot.

Correctness only (no figure is compared with anything): the scaled profile keeps the user mix and
multiplies the counts, and a round runs Locust against a fresh emulator, counts canister calls from
its stats and measures the worker's CPU.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from benchmarks.locust_rate import ROOT, one_round, scaled_profile

pytestmark = pytest.mark.slow

SMOKE = ROOT / "loadtests" / "profiles" / "smoke.toml"


def test_the_scaled_profile_multiplies_every_user_count_and_keeps_the_rest(tmp_path: Path) -> None:
    original = tomllib.loads(SMOKE.read_text(encoding="utf-8"))
    scaled = tomllib.loads(scaled_profile(SMOKE, 3, 7, tmp_path).read_text(encoding="utf-8"))
    users, scaled_users = original["loadtest"]["users"], scaled["loadtest"]["users"]
    assert {name: u["count"] * 3 for name, u in users.items()} == {
        n: u["count"] for n, u in scaled_users.items()
    }
    assert scaled["tool"]["locust"]["users"] == sum(u["count"] for u in scaled_users.values())
    assert scaled["tool"]["locust"]["run-time"] == "7s"
    for name, settings in users.items():
        assert {k: v for k, v in settings.items() if k != "count"} == {
            k: v for k, v in scaled_users[name].items() if k != "count"
        }
    assert scaled["loadtest"]["slo"] == original["loadtest"]["slo"]


def test_one_short_round_counts_calls_and_cpu(tmp_path: Path) -> None:
    result = one_round(ROOT, SMOKE, scale=1, seconds=4, work=tmp_path)
    assert result["calls"] > 0
    assert result["failures"] == 0
    assert result["locust_cpu_s"] > 0 and result["cpu_ms_per_call"] > 0
    assert result["emulator_cores"] > 0
