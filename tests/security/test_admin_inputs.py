"""Malformed admin input is a 400 (or 404/413/415) with a reason; nothing changes, nothing is a 500.

Before: advancing the clock by 2^63 ns was accepted and every update trapped from then on, across
restarts; `1e308`, `Infinity` and deeply nested JSON gave HTTP 500, as did a fault rule with
`"count": "5"`; `storeforever emulator snapshot FILE` with a wrong token truncated FILE to 0 bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clients.admin import AdminClient
from clients.artifact import upload
from tests.client.conftest import downloaded_sha256, make_client, new_id, sha256
from tests.emulator_process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess

JSON = {"Content-Type": "application/json"}
CLI = [sys.executable, "-m", "storeforever", "emulator"]
CLOCK = f"/canisters/{DEFAULT_ID}/clock/advance"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("inputs") / "state",
        canisters=[f"artifact={DEFAULT_ID}", f"example={EXAMPLE_ID}"],
        extra_args=["--quiet"],
    ) as proc:
        yield proc


def _post(emu: EmulatorProcess, path: str, body: str | bytes) -> httpx.Response:
    return httpx.post(f"{emu.admin_url}{path}", content=body, headers=JSON, timeout=30)


def _offset(emu: EmulatorProcess) -> int:
    with AdminClient(emu.admin_url) as admin:
        return int(admin.clock(DEFAULT_ID)["clock_offset_ns"])


def _store_and_fetch(emu: EmulatorProcess) -> None:
    """An artifact upload (updates that store canister times) still succeeds and reads back."""
    data = os.urandom(10_000)
    mid = new_id()
    upload(make_client(emu.url), mid, data)
    assert downloaded_sha256(emu.admin_url, mid) == sha256(data)


CLOCK_BODIES: dict[str, tuple[str | bytes, str]] = {
    "2^63 ns": ('{"nanoseconds": 9223372036854775808}', "past 2^62 ns"),
    "2^64 ns": ('{"nanoseconds": 18446744073709551616}', "'nanoseconds' must be within"),
    "2^62 ns": ('{"nanoseconds": 4611686018427387904}', "past 2^62 ns"),
    "negative": ('{"nanoseconds": -1}', "'nanoseconds' must be within"),
    "1e308 seconds": ('{"seconds": 1e308}', "'seconds' must be within"),
    "1e999 seconds": ('{"seconds": 1e999}', "out of range"),
    "Infinity": ('{"seconds": Infinity}', "Infinity is not valid JSON"),
    "-Infinity": ('{"seconds": -Infinity}', "-Infinity is not valid JSON"),
    "NaN": ('{"seconds": NaN}', "NaN is not valid JSON"),
    "bool as int": ('{"nanoseconds": true}', "'nanoseconds' must be an integer"),
    "float nanoseconds": ('{"nanoseconds": 1.5}', "'nanoseconds' must be an integer"),
    "string seconds": ('{"seconds": "5"}', "'seconds' must be a finite number"),
    "both fields": ('{"seconds": 1, "nanoseconds": 1}', "exactly one of"),
    "no field": ("{}", "exactly one of"),
    "unknown field": ('{"seconds": 1, "minutes": 2}', "unknown fields: minutes"),
    "list body": ("[1, 2]", "body must be a JSON object"),
    "not JSON": ("seconds=5", "body is not JSON"),
    "deeply nested": ('{"seconds": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested deeper than 32"),
    "nested in a field": ('{"seconds": ' + "[" * 20 + "]" * 20 + "}", "'seconds' must be a finite number"),
    "bad UTF-8": (b'{"seconds": "\xff\xfe"}', "body is not JSON"),
    "huge integer": ('{"nanoseconds": ' + "9" * 5000 + "}", "body is not JSON"),
}


@pytest.mark.parametrize("case", list(CLOCK_BODIES))
def test_bad_clock_advance_is_refused_and_clock_unchanged(case: str, emu: EmulatorProcess) -> None:
    body, reason = CLOCK_BODIES[case]
    before = _offset(emu)
    answer = _post(emu, CLOCK, body)
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["error"]
    assert _offset(emu) == before


def test_updates_still_execute_after_overflow_attempts(emu: EmulatorProcess) -> None:
    for body, _ in CLOCK_BODIES.values():
        _post(emu, CLOCK, body)
    _store_and_fetch(emu)
    ok = _post(emu, CLOCK, '{"seconds": 3600.5}')
    assert ok.status_code == 200
    assert ok.json()["clock_offset_ns"] >= 3_600_500_000_000


FAULT_BODIES = {
    "count as string": ('{"action": "reject", "count": "5"}', "count must be an integer or null"),
    "count as bool": ('{"action": "reject", "count": true}', "count must be an integer or null"),
    "count as float": ('{"action": "reject", "count": 1.0}', "count must be an integer or null"),
    "huge count": ('{"action": "reject", "count": 1' + "0" * 40 + "}", "count must be an integer or null"),
    "probability as string": ('{"action": "reject", "probability": "0.5"}', "probability must be a finite"),
    "probability 1e308": ('{"action": "reject", "probability": 1e308}', "probability must be within [0, 1]"),
    "action as list": ('{"action": ["reject"]}', "action must be a string"),
    "method as object": ('{"action": "reject", "method": {}}', "method must be a string"),
    "long method": ('{"action": "reject", "method": "' + "m" * 5000 + '"}', "method must be a string of at"),
    "reject_code as bool": ('{"action": "reject", "reject_code": false}', "reject_code must be an integer"),
    "http_status as string": ('{"action": "http_status", "http_status": "503"}', "http_status must be an"),
    "latency as float": ('{"action": "latency", "latency_ms": 1.5}', "latency_ms must be an integer"),
    "unknown field": ('{"action": "reject", "evil": 1}', "unknown fields: evil"),
    "no action": ("{}", "action must be one of"),
    "null body": ("null", "body must be a JSON object"),
}


@pytest.mark.parametrize("case", list(FAULT_BODIES))
def test_bad_fault_rule_is_refused_and_none_added(case: str, emu: EmulatorProcess) -> None:
    body, reason = FAULT_BODIES[case]
    answer = _post(emu, "/faults", body)
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["error"]
    assert httpx.get(f"{emu.admin_url}/faults").json() == []


ROUTE_CASES = {
    "bad canister id": ("GET", "/canisters/not-a-principal/clock", None, 400, "invalid canister id"),
    "unknown canister": ("GET", "/canisters/aaaaa-aa/clock", None, 404, "is not hosted here"),
    "bad rule id": ("DELETE", "/faults/abc", "", 400, "rule id must be a positive integer"),
    "huge rule id": ("DELETE", "/faults/" + "9" * 400, "", 400, "rule id must be a positive integer"),
    "unicode digit rule id": ("DELETE", "/faults/%C2%B2", "", 400, "rule id must be a positive integer"),
    "missing rule": ("DELETE", "/faults/12345", "", 404, "no such rule"),
    "unknown view": ("GET", f"/canisters/{DEFAULT_ID}/inspect/nope", None, 404, "no view 'nope'"),
    "bad limit": ("GET", f"/canisters/{DEFAULT_ID}/inspect/memories?limit=-1", None, 400, "limit must be"),
    "unicode limit": (
        "GET",
        f"/canisters/{DEFAULT_ID}/inspect/memories?limit=%C2%B2",
        None,
        400,
        "bad parameters",
    ),
    "huge cursor": (
        "GET",
        f"/canisters/{DEFAULT_ID}/inspect/sessions?after={'9' * 30}",
        None,
        400,
        "bad parameters",
    ),
    "bad owner": ("GET", f"/canisters/{DEFAULT_ID}/inspect/memories?owner=xyz", None, 400, "owner"),
    "long param": (
        "GET",
        f"/canisters/{DEFAULT_ID}/inspect/memories?after={'a' * 5000}",
        None,
        400,
        "too long",
    ),
    "bad status": (
        "GET",
        f"/canisters/{DEFAULT_ID}/inspect/sessions?status=Nope",
        None,
        400,
        "status must be",
    ),
    "missing asset": ("GET", f"/canisters/{DEFAULT_ID}/assets/nope/content", None, 404, "no committed asset"),
    "upgrade unknown kind": (
        "POST",
        f"/canisters/{DEFAULT_ID}/upgrade",
        '{"kind": "nope"}',
        400,
        "unknown canister",
    ),
    "upgrade missing module": (
        "POST",
        f"/canisters/{DEFAULT_ID}/upgrade",
        '{"kind": "no.such.module:Thing"}',
        400,
        "cannot load canister kind",
    ),
    "upgrade non-canister": (
        "POST",
        f"/canisters/{DEFAULT_ID}/upgrade",
        '{"kind": "emulator.principal:Principal"}',
        400,
        "is not a Canister class",
    ),
    "upgrade kind as int": ("POST", f"/canisters/{DEFAULT_ID}/upgrade", '{"kind": 5}', 400, "'kind' must be"),
    "reset with fields": ("POST", f"/canisters/{DEFAULT_ID}/reset", '{"wipe": true}', 400, "takes no fields"),
    "timers with list": ("POST", f"/canisters/{DEFAULT_ID}/timers/run", "[]", 400, "must be a JSON object"),
    "oversized body": ("POST", "/faults", '{"action": "' + "x" * (2 << 20) + '"}', 413, ""),
    "unknown route": ("GET", "/nope", None, 404, "Not Found"),
    "wrong method": ("PATCH", "/faults", "{}", 405, "Method Not Allowed"),
}


@pytest.mark.parametrize("case", list(ROUTE_CASES))
def test_bad_route_input_is_a_json_4xx(case: str, emu: EmulatorProcess) -> None:
    method, path, body, status, reason = ROUTE_CASES[case]
    headers = JSON if body is not None else {}
    answer = httpx.request(method, f"{emu.admin_url}{path}", content=body, headers=headers, timeout=30)
    assert answer.status_code == status, answer.text
    assert reason in answer.json()["error"]


def test_cli_snapshot_with_wrong_token_leaves_file_identical(tmp_path: Path) -> None:
    proc = EmulatorProcess(tmp_path / "state", extra_args=["--quiet", "--admin-token", "right"])
    proc.start()
    try:
        target = tmp_path / "keep.zip"
        original = b"an earlier snapshot the engineer wants to keep" * 100
        target.write_bytes(original)
        for command in (["snapshot", str(target)], ["download", "some-key", "-o", str(target)]):
            done = subprocess.run(
                [*CLI, *command, "--admin-url", proc.admin_url, "--admin-token", "wrong"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 1, done.stderr
            assert "admin API 401: missing or wrong admin token" in done.stderr
            assert target.read_bytes() == original
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("keep")) == ["keep.zip"]
        good = subprocess.run(
            [*CLI, "snapshot", str(target), "--admin-url", proc.admin_url, "--admin-token", "right"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert good.returncode == 0, good.stderr
        assert target.read_bytes()[:2] == b"PK"
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    finally:
        proc.stop()


def test_no_malformed_input_reached_the_catch_all(emu: EmulatorProcess) -> None:
    """The middleware's last-resort 500 logs a traceback; none of the inputs above may get there."""
    assert emu.log_path is not None
    log = emu.log_path.read_text()
    assert "Traceback" not in log
    assert "internal error" not in log
