"""Unit tests of the suite's pure parts: reply normalisation, diffs, marker checks, target settings."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance.catalog import Limits
from conformance.plugin import _marker_problems
from conformance.report import classify_skip
from conformance.snapshot import Normaliser, Recorder, diff, filter_diffs, plain
from conformance.target import TargetError, build_config, load_profile

MID = "0b8f6a52-3f0e-4c1d-9a7e-5d2c1b0a9f8e"
OTHER = "5c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
SESSION = "f79f90c82350a8a31121a7faa5f7e1517a2b7137"
PRINCIPAL = "stvcg-ap2sk-fdcmn-mj2iz-tr5oc-dseg5-fw3vx-mt4tu-ct2dv-ie5vm-oqe"


def test_placeholders_are_stable_and_shared_between_args_replies_and_messages() -> None:
    rec = Recorder()
    rec.record(
        {
            "call": "begin_asset_upload",
            "as": "alice",
            "args": [MID, "ab" * 32, 1, 5],
            "reply": {"data": [{"session": [{"session_id": SESSION, "memory_id": MID, "created_at": 17}]}]},
        }
    )
    rec.record({"call": "put_chunk", "as": "alice", "args": [SESSION, 0, b"hello"], "reply": {"ok": True}})
    rec.record({"call": "whoami", "as": "alice", "args": [], "reply": PRINCIPAL})
    rec.record(
        {
            "call": "x",
            "as": "bob",
            "args": [OTHER],
            "reply": {"message": f"Gallery not found: {OTHER} of {PRINCIPAL}"},
        }
    )
    begin, put, who, other = rec.replies()
    assert begin["args"][0] == "<uuid:1>"
    session = begin["reply"]["data"][0]["session"][0]
    assert session == {"session_id": "<session:1>", "memory_id": "<uuid:1>", "created_at": "<time>"}
    assert put["args"] == ["<session:1>", 0, plain(b"hello")]
    assert who["reply"] == "<principal:1>"
    assert other["args"] == ["<uuid:2>"]
    assert other["reply"]["message"] == "Gallery not found: <uuid:2> of <principal:1>"


def test_session_arguments_seen_first_still_get_placeholders() -> None:
    n = Normaliser()
    entry = n.normalise({"call": "commit_asset", "args": [SESSION, "ab" * 32], "reply": {"ok": True}})
    assert entry["args"] == ["<session:1>", "ab" * 32]


def test_times_durations_bytes_aliases_and_the_anonymous_principal() -> None:
    rec = Recorder()
    rec.alias(MID[:8], "<fragment>")
    rec.record(
        {
            "call": "q",
            "as": "a",
            "args": [MID[:8]],
            "reply": {
                "uploaded_at": "1795597622200621045",
                "expires_at": 5,
                "updated_at": 0,
                "estimated_time_remaining": [123],
                "caller": "2vxsx-fae",
                "data": b"\x00" * 40,
                "message": f"Invalid UUID: '{MID[:8]}'",
            },
        }
    )
    (entry,) = rec.replies()
    reply = entry["reply"]
    assert entry["args"] == ["<fragment>"]
    assert reply["uploaded_at"] == reply["expires_at"] == "<time>"
    assert reply["updated_at"] == 0, "a zero time is a value, not a clock reading"
    assert reply["estimated_time_remaining"] == ["<duration>"]
    assert reply["caller"] == "2vxsx-fae"
    assert reply["data"].startswith("bytes:40:")
    assert reply["message"] == "Invalid UUID: '<fragment>'"


def test_diff_and_skip_paths() -> None:
    a = [{"reply": {"message": "x", "n": 1}}, {"reply": 2}]
    b = [{"reply": {"message": "y", "n": 1, "extra": True}}]
    diffs = diff(a, b)
    assert [d["path"] for d in diffs] == ["$[0].reply.extra", "$[0].reply.message", "$[1]"]
    assert diffs[2] == {"path": "$[1]", "expected": {"reply": 2}, "actual": "<missing>"}
    assert [d["path"] for d in filter_diffs(diffs, ["*.message", "$[1]"])] == ["$[0].reply.extra"]
    assert diff([1], [True]) != [], "1 and true are different replies"


def _item(**markers: list[tuple[Any, ...]]) -> Any:
    def iter_markers(name: str) -> list[Any]:
        return [SimpleNamespace(args=args, kwargs={}) for args in markers.get(name, [])]

    return SimpleNamespace(iter_markers=iter_markers)


def test_marker_checks() -> None:
    good = _item(req=[("22.2",)], task=[("1.4",)], portable=[()], method=[("put_chunk",)])
    assert _marker_problems(good) == []
    problems = _marker_problems(
        _item(req=[("99.9",)], needs=[("clock",), ("time travel",)], method=[("nope",)])
    )
    assert "unknown requirement '99.9'" in problems
    assert "no task(...) marker" in problems
    assert "needs exactly one of portable / needs(...), has 2" in problems
    assert "unknown capability 'time travel'" in problems
    assert "unknown contract method 'nope'" in problems
    assert _marker_problems(_item(task=[("1.4",)], portable=[()])) == ["no req(...) marker"]


def test_skip_classification() -> None:
    assert classify_skip("Skipped: not implemented by target: get_upload_progress") == "not-implemented"
    assert classify_skip("target lacks capability: clock (replica)") == "skipped-capability"
    assert classify_skip("something else") == "skipped"


def test_profile_paths_are_relative_to_the_profile(tmp_path: Path) -> None:
    profile = tmp_path / "sub" / "p.toml"
    profile.parent.mkdir()
    profile.write_text(
        'target = "replica"\nurl = "http://h:1"\ncanister-id = "aaaaa-aa"\nidentity = "me.pem"\n'
        "[limits]\ndaily_upload_quota = 5\n"
    )
    data = load_profile(profile)
    assert data["identity"] == str(tmp_path / "sub" / "me.pem")
    config = build_config({"url": None}, data)
    assert (config.kind, config.url, config.canister_id) == ("replica", "http://h:1", "aaaaa-aa")
    limits = Limits.from_mapping(config.limits)
    assert limits["daily_upload_quota"] == 5 and limits.is_stated("daily_upload_quota")
    assert limits["max_active_sessions"] == 3 and not limits.is_stated("max_active_sessions")
    override = build_config({"url": "http://other:2"}, data)
    assert override.url == "http://other:2", "options win over the profile"


@pytest.mark.parametrize(
    "options, profile, message",
    [
        ({"target": "mainnet"}, {}, "--target must be one of: emulator, replica"),
        ({"target": "replica"}, {}, "--target replica needs --url and --canister-id"),
        ({"target": "replica", "url": "http://x"}, {}, "needs --canister-id"),
        ({"url": "http://x"}, {}, "--url is for --target replica"),
        (
            {"target": "replica", "url": "u", "canister_id": "c"},
            {"limits": {"bogus": 1}},
            "unknown limit(s) bogus",
        ),
    ],
)
def test_bad_settings_say_what_to_do(options: dict[str, Any], profile: dict[str, Any], message: str) -> None:
    with pytest.raises(TargetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_config(options, profile)


def test_unknown_profile_keys_are_refused(tmp_path: Path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text('{"target": "replica", "endpoint": "http://x"}')
    with pytest.raises(TargetError, match="unknown key"):
        load_profile(profile)
