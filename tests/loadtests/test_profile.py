"""The shipped profiles load, agree with themselves, and bad profiles are refused with a reason."""

from __future__ import annotations

import copy
import json
import tomllib
from typing import Any

import pytest

from loadtests.profile import PROFILE_DIR, ProfileError, load_profile, main, parse_profile

SHIPPED = sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def document(name: str) -> dict[str, Any]:
    return tomllib.loads((PROFILE_DIR / f"{name}.toml").read_text(encoding="utf-8"))


def test_smoke_and_full_are_shipped() -> None:
    assert {"smoke", "full"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_is_consistent(name: str) -> None:
    profile = load_profile(name)
    locust = document(name)["tool"]["locust"]
    assert locust["load-profile"] == name and profile.name == name
    assert locust["users"] == profile.total_users, "[tool.locust] users must equal the fixed counts"
    assert locust["headless"] is True
    assert locust["csv"] == f"reports/loadtests/{name}/{name}" and locust["html"].endswith(".html")
    assert profile.gallery_event in profile.slo.p95_ms, "the whole-gallery event must be gated"
    assert profile.slo.max_failure_ratio == 0.0
    # the quota note of the contract: a load test storing galleries raises the daily quota, and says so
    assert profile.emulator.limits["daily_upload_quota"] > 1000
    text = (PROFILE_DIR / f"{name}.toml").read_text(encoding="utf-8")
    assert "RAISED" in text and "contract's quota note" in text


def test_full_profile_stores_galleries_of_at_least_1000_memories() -> None:
    full = load_profile("full")
    assert full.gallery.gallery_size >= 1000
    assert full.gallery_event == f"gallery:store_{full.gallery.gallery_size}"
    assert full.big.asset_size.max == full.target.max_asset_size


def test_profile_survives_the_trip_to_workers_as_json() -> None:
    profile = load_profile("smoke")
    assert parse_profile(json.loads(profile.to_json())) == profile


def test_emulator_args_carry_durability_and_limits() -> None:
    args = load_profile("smoke").emulator.args()
    assert args[:2] == ["--durability", "full"]
    assert "daily_upload_quota=1000000" in args


def mutated(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(document("smoke"))
    change(doc["loadtest"])
    return doc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lt: lt["slo"]["p95_ms"].update(put_chunk="fast"), "positive number"),
        (lambda lt: lt["users"]["GalleryStorer"].update(gallery_sise=10), "unknown keys"),
        (lambda lt: lt["users"].update(Uploader={"count": 1}), "unknown keys"),
        (lambda lt: lt["users"]["RateLimitProber"].update(burst=3), "must exceed"),
        (lambda lt: lt["users"]["GalleryStorer"].update(memory_concurrency=4), "own rate limit"),
        (lambda lt: lt["emulator"]["limits"].update(max_active_sessions=5), "set both or neither"),
        (lambda lt: lt["users"]["BigUploader"]["asset_size"].update(min=1024), "multi-chunk"),
        (lambda lt: lt["users"]["PresenceReader"].update(wait=[2, 1]), "wait must be"),
        (lambda lt: lt["slo"].update(max_failure_ratio=2), "max_failure_ratio"),
        (lambda lt: lt.pop("slo"), "missing table"),
        (lambda lt: lt["target"].update(presence_page_size=500), "maximum page"),
    ],
)
def test_bad_profiles_are_refused_with_a_reason(change: Any, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_profile(mutated(change))


def test_unknown_profile_names_list_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match="smoke"):
        load_profile("nonexistent")


def test_cli_prints_what_the_script_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator-args", "smoke"]) == 0
    assert "--limit" in capsys.readouterr().out.split()
    assert main(["locust-setting", "full", "run-time"]) == 0
    assert capsys.readouterr().out.strip() == "3m"
    assert main(["check", "nonexistent"]) == 1
    assert main([]) == 2
