"""Emulator controls seen by a real client: the clock and timers, rate limits, fault rules, admin API."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.admin import AdminClient, AdminError
from clients.ic import Connection, HTTPStatusError, Reject, generate_ed25519
from clients.ic.errors import TransportError
from tests.e2e.artifact_calls import CANISTER, Artifact, CallFailed, new_id, sha
from tests.emulator_process import EXAMPLE_ID, EmulatorProcess

MINUTE = 60.0


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    proc = EmulatorProcess(
        tmp_path_factory.mktemp("controls") / "state",
        canisters=[f"artifact={CANISTER}", f"example={EXAMPLE_ID}"],
        extra_args=["--quiet", "--admin-token", "s3cret"],
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def admin(emu: EmulatorProcess) -> AdminClient:
    return AdminClient(emu.admin_url, token="s3cret")


@pytest.fixture
def art(emu: EmulatorProcess) -> Artifact:
    return Artifact(Connection(emu.url, generate_ed25519()))


def test_expiry_releases_the_slot_and_the_timer_frees_chunk_bytes(art: Artifact, admin: AdminClient) -> None:
    data = os.urandom(3000)
    sessions = [art.begin(new_id(), data, 3) for _ in range(3)]
    for s in sessions:
        art.put(s["session_id"], 0, data[:1000])
    refused = art.error("begin_asset_upload", new_id(), sha(data), 3, len(data))
    assert refused["Internal"].startswith("Rate limit exceeded: 3 concurrent uploads (max 3)")
    owner = art.conn.identity.sender().to_str()
    stored = admin.inspect(CANISTER, "sessions", owner=owner)
    assert sum(s["stored_bytes"] for s in stored["sessions"]) == 3000

    admin.advance_clock(CANISTER, 31 * MINUTE)  # the clean-up timer is due and fires on the advance

    assert art.error("put_chunk", sessions[0]["session_id"], 1, data[1000:2000]) == {
        "Internal": "Session expired"
    }
    after = admin.inspect(CANISTER, "sessions", owner=owner)
    assert {s["status"] for s in after["sessions"]} == {"Expired"}
    assert sum(s["stored_bytes"] for s in after["sessions"]) == 0, (
        "the timer freed untouched sessions' chunks"
    )
    assert art.progress(sessions[1]["session_id"])["status"] == {"Expired": None}
    fresh = art.begin(new_id(), data, 3)  # slots released
    assert fresh["chunks_received"] == [False, False, False]


def test_twenty_concurrent_begins_leave_exactly_three_active_sessions(art: Artifact) -> None:
    data = os.urandom(100)

    def begin(_: int) -> Any:
        return art.raw("begin_asset_upload", new_id(), sha(data), 1, len(data))

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(begin, range(20)))
    ok = [r for r in results if r["success"]]
    refused = [r["error"][0]["Internal"] for r in results if not r["success"]]
    assert len(ok) == 3
    assert len(refused) == 17
    assert all(m.startswith("Rate limit exceeded: 3 concurrent uploads (max 3)") for m in refused)
    listed = art.ok("get_user_upload_sessions")["sessions"]
    assert sorted(s["session_id"] for s in listed) == sorted(
        r["data"][0]["session"][0]["session_id"] for r in ok
    )


# -- fault rules, each observed by the real client ---------------------------------------------------


def _counter(conn: Connection) -> int:
    from icp_candid import Types

    return int(conn.query(EXAMPLE_ID, "get", ret_types=[Types.Nat64]))


def _inc(conn: Connection) -> int:
    from icp_candid import Types

    return int(conn.update(EXAMPLE_ID, "inc", ret_types=[Types.Nat64]))


def test_fault_reject_transient_is_not_executed(emu: EmulatorProcess, admin: AdminClient) -> None:
    conn = Connection(emu.url, generate_ed25519())
    before = _counter(conn)
    admin.add_fault(action="reject", method="inc", count=1, reject_code=2)
    with pytest.raises(Reject) as info:
        _inc(conn)
    assert (info.value.reject_code, info.value.certified) == (2, False)
    assert _counter(conn) == before
    assert _inc(conn) == before + 1, "the rule fired once and is gone"


def test_fault_http_status_on_queries_and_calls(emu: EmulatorProcess, admin: AdminClient) -> None:
    conn = Connection(emu.url, generate_ed25519())
    admin.add_fault(action="http_status", method="get", endpoint="query", count=1, http_status=429)
    with pytest.raises(HTTPStatusError) as info:
        _counter(conn)
    assert info.value.status_code == 429
    before = _counter(conn)
    admin.add_fault(action="http_status", method="inc", count=1, http_status=503)
    with pytest.raises(HTTPStatusError) as info:
        _inc(conn)
    assert info.value.status_code == 503
    assert _counter(conn) == before


def test_fault_latency_holds_the_call_then_executes(emu: EmulatorProcess, admin: AdminClient) -> None:
    """Ordering, not timing: while the delayed update is held, a query answers and sees no change yet."""
    conn = Connection(emu.url, generate_ed25519())
    before = _counter(conn)
    admin.add_fault(action="latency", method="inc", count=1, latency_ms=3000)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_inc, conn)
        for _ in range(10_000):  # the rule is consumed when the held call arrives
            if not admin.faults():
                break
        else:
            raise AssertionError("the delayed update never reached the emulator")
        assert _counter(conn) == before
        assert not pending.done(), "the update was answered without being held"
        assert pending.result() == before + 1
    assert _counter(conn) == before + 1


def test_fault_drop_reply_executes_but_the_client_sees_a_failure(
    emu: EmulatorProcess, admin: AdminClient
) -> None:
    conn = Connection(emu.url, generate_ed25519())
    before = _counter(conn)
    admin.add_fault(action="drop_reply", method="inc", count=1)
    with pytest.raises(TransportError):
        _inc(conn)
    assert _counter(conn) == before + 1, "the state changed although no reply arrived"


def test_fault_probability_and_listing(admin: AdminClient) -> None:
    rule = admin.add_fault(action="reject", method="never_called", probability=0.5)
    assert any(r["id"] == rule["id"] for r in admin.faults())
    assert admin.clear_faults() >= 1
    assert admin.faults() == []
    with pytest.raises(AdminError) as info:
        admin.add_fault(action="explode")
    assert info.value.status == 400


# -- admin API -----------------------------------------------------------------------------------------


def test_admin_requires_the_token_except_for_health(emu: EmulatorProcess) -> None:
    assert httpx.get(f"{emu.admin_url}/health").status_code == 200
    assert httpx.get(f"{emu.admin_url}/canisters").status_code == 401
    assert (
        httpx.get(f"{emu.admin_url}/canisters", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )


def test_openapi_lists_every_route(admin: AdminClient, emu: EmulatorProcess) -> None:
    spec = httpx.get(f"{emu.admin_url}/openapi.json", headers={"Authorization": "Bearer s3cret"}).json()
    assert spec["openapi"].startswith("3.")
    for path in ("/canisters/{cid}/upgrade", "/canisters/{cid}/clock/advance", "/snapshot", "/faults"):
        assert path in spec["paths"]


def test_clock_never_moves_back(admin: AdminClient) -> None:
    with pytest.raises(AdminError) as info:
        admin._req("POST", f"/canisters/{CANISTER}/clock/advance", json={"seconds": -1})
    assert info.value.status == 400


def test_snapshot_restore_and_reset(art: Artifact, admin: AdminClient, tmp_path: Path) -> None:
    first, second = new_id(), new_id()
    art.upload(first, b"first asset", 1024)
    snapshot = admin.snapshot(tmp_path / "state.zip")
    with zipfile.ZipFile(snapshot) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert CANISTER in manifest["canisters"]
    art.upload(second, b"second asset", 1024)
    assert art.presence(second) == (False, True)
    admin.restore(snapshot)
    assert art.presence(first) == (False, True)
    assert art.presence(second) == (False, False), "state after the snapshot is gone"
    admin.reset(CANISTER)
    assert art.presence(first) == (False, False)
    with pytest.raises(CallFailed):
        art.ok("get_upload_progress", "0" * 40)


def test_metrics_count_calls_and_report_canister_figures(art: Artifact, admin: AdminClient) -> None:
    art.upload(new_id(), b"m" * 5000, 4096)
    text = admin.metrics()
    assert 'storeforever_calls_total{endpoint="call",method="commit_asset",outcome="replied"}' in text
    assert "storeforever_call_seconds_bucket" in text
    assert f'storeforever_canister_state{{canister="{CANISTER}",figure="stored_bytes"}}' in text
