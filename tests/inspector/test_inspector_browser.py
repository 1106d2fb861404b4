"""The inspector page in a real browser (Debian's Chromium via Playwright) against real emulators.

What a person sees is what is checked: badges and counts after real `storeforever store-gallery`
runs, a progress bar that grows while the CLI uploads (no reload), a session expiring when the page
moves the clock, fault rules added and cleared from the page changing what the next CLI call gets,
the token flow, and that a page from another origin cannot drive the controls.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from clients.admin import AdminClient
from tests.emulator_process import DEFAULT_ID, EmulatorProcess
from tests.inspector.conftest import Cli, new_id, screenshot, write_manifest

HANG_GUARD_S = 60


def _row(page: Any, gallery_id: str) -> Any:
    return page.locator(f'tr[data-gallery="{gallery_id}"]')


def test_badges_counts_gallery_detail_and_escaping(
    page: Any, inspector_emulator: EmulatorProcess, cli: Cli, tmp_path: Path
) -> None:
    emu = inspector_emulator
    full, full_id = write_manifest(tmp_path / "full", title="Complete gallery", files=3)
    assert cli(emu, "store-gallery", str(full)).returncode == 0

    with AdminClient(emu.admin_url) as admin:
        admin.add_fault(
            action="reject",
            method="begin_asset_upload",
            count=1,
            reject_code=4,
            reject_message="Fault injected: upload refused for the test",
        )
    partial, partial_id = write_manifest(tmp_path / "partial", title="Half gallery", files=3)
    run = cli(emu, "store-gallery", str(partial), "--memory-concurrency", "1")
    assert run.returncode == 5, run.stdout + run.stderr  # EXIT_PARTIAL: one memory failed

    notes, notes_id = write_manifest(tmp_path / "notes", title="Notes only", files=0, metadata_only=2)
    assert cli(emu, "store-gallery", str(notes)).returncode == 0

    hostile_title = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'
    hostile, hostile_id = write_manifest(tmp_path / "hostile", title=hostile_title, files=1)
    doc = json.loads(hostile.read_text())
    doc["memories"][0]["metadata"]["title"] = hostile_title  # a memory title too
    doc["memories"][0]["gallery_caption"] = "<b onmouseover=alert(1)>caption</b>"
    hostile.write_text(json.dumps(doc))
    assert cli(emu, "store-gallery", str(hostile)).returncode == 0

    page.goto(emu.admin_url + "/")
    expected = {
        full_id: ("Stored forever", "3 of 3 memories"),
        partial_id: ("Partially on ICP", "2 of 3 memories"),
        notes_id: ("Partially on ICP", "0 of 2 memories"),
        hostile_id: ("Stored forever", "1 of 1 memories"),
    }
    for gallery_id, (badge, count) in expected.items():
        row = _row(page, gallery_id)
        assert row.locator("[data-badge]").inner_text() == badge
        assert row.locator("[data-count]").inner_text() == count
    assert _row(page, hostile_id).locator(".gallery-title").inner_text() == hostile_title
    assert page.evaluate("window.__pwned") is None
    screenshot(page, "galleries")

    # Filter by owner: the CLI user owns all four; an unknown owner has none.
    owner = _row(page, full_id).locator("code.principal").inner_text()
    page.goto(f"{emu.admin_url}/?owner={owner}")
    assert page.locator("tr[data-gallery]").count() == 4
    page.goto(f"{emu.admin_url}/?owner=aaaaa-aa")
    assert page.locator("tr[data-gallery]").count() == 0

    page.goto(emu.admin_url + "/")
    _row(page, full_id).locator("a.gallery-title").click()
    page.wait_for_url(re.compile(r"/inspector/gallery\?id="))
    assert page.locator("tr[data-memory]").count() == 3
    assert page.locator('td[data-metadata="yes"]').count() == 3
    assert page.locator('td[data-asset="yes"]').count() == 3
    first = page.locator("tr[data-memory]").first
    sha_shown = first.locator("code.sha").inner_text()
    assert first.locator(".session .status").inner_text() == "Completed"
    with page.expect_download() as download_info:
        first.locator("a.download").click()
    downloaded = Path(download_info.value.path()).read_bytes()
    assert hashlib.sha256(downloaded).hexdigest() == sha_shown and len(downloaded) == 4096
    screenshot(page, "gallery")

    page.goto(f"{emu.admin_url}/inspector/gallery?id={hostile_id}")
    assert page.locator("h1.gallery-title").inner_text() == hostile_title
    assert page.locator(".memory-title").inner_text() == hostile_title
    assert "<b onmouseover=alert(1)>caption</b>" in page.locator("tr[data-memory]").inner_text()
    assert page.locator("tr[data-memory] b").count() == 0 and page.evaluate("window.__pwned") is None

    page.goto(f"{emu.admin_url}/inspector/gallery?id={partial_id}")
    assert page.locator('td[data-asset="no"]').count() == 1
    assert page.locator('td[data-metadata="yes"]').count() == 3

    # The audit trail: the refused begin is there, filterable by method and outcome.
    page.goto(f"{emu.admin_url}/inspector/audit?method=upsert_metadata")
    assert page.locator("tr[data-audit]").count() == 9
    page.goto(f"{emu.admin_url}/inspector/audit?outcome=refused")
    assert page.locator("tr[data-audit]").count() == 0  # the fault rejected before the canister ran
    page.goto(f"{emu.admin_url}/inspector/audit?method=begin_asset_upload&outcome=ok")
    assert page.locator("tr[data-audit]").count() == 6
    page.goto(f"{emu.admin_url}/inspector/audit?principal={owner}&method=store_gallery_forever")
    principals = page.locator("tr[data-audit] code.principal").all_inner_texts()
    assert principals == [owner] * 4
    page.goto(f"{emu.admin_url}/inspector/audit?principal=aaaaa-aa")
    assert page.locator("tr[data-audit]").count() == 0
    screenshot(page, "audit")

    page.goto(f"{emu.admin_url}/inspector/metrics")
    begin_row = page.locator('tr[data-method="begin_asset_upload"][data-endpoint="call"]')
    assert begin_row.locator("[data-total]").inner_text() == "7"  # 6 ok + 1 rejected by the fault
    assert page.locator('[data-figure="active_sessions"]').first.inner_text() == "0"
    screenshot(page, "metrics")


def _bar_value(page: Any, session_id: str) -> int | None:
    bar = page.locator(f'#live-sessions tr[data-session="{session_id}"] progress')
    if bar.count() == 0:
        return None
    return int(float(bar.get_attribute("value") or 0))


def test_progress_bar_grows_live_and_the_session_completes(
    page: Any, inspector_emulator: EmulatorProcess, cli: Cli, tmp_path: Path
) -> None:
    emu = inspector_emulator
    with AdminClient(emu.admin_url) as admin:
        admin.add_fault(action="latency", method="put_chunk", latency_ms=300)
    upload = tmp_path / "big.bin"
    upload.write_bytes(b"\x5a" * (16 * 32 * 1024))
    memory_id = new_id()

    page.goto(emu.admin_url + "/inspector/uploads")
    page.evaluate("window.__not_reloaded = true")
    proc = cli.start(
        emu, "upload", str(upload), "--memory-id", memory_id, "--chunk-size", str(32 * 1024),
        "--concurrency", "1",
    )  # fmt: skip
    try:
        row = page.locator("#live-sessions tr[data-session]")
        row.first.wait_for(timeout=HANG_GUARD_S * 1000)
        session_id = row.first.get_attribute("data-session")
        assert session_id
        seen: list[int] = []
        deadline = time.monotonic() + HANG_GUARD_S
        while proc.poll() is None and time.monotonic() < deadline:
            value = _bar_value(page, session_id)
            if value is not None and (not seen or value != seen[-1]):
                seen.append(value)
                if len(seen) == 3:
                    screenshot(page, "uploads")
            page.wait_for_timeout(100)
        out, err = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert len(seen) >= 3, seen
    assert seen == sorted(seen)
    assert page.evaluate("window.__not_reloaded") is True
    finished = page.locator(f'#finished-sessions tr[data-session="{session_id}"]')
    finished.wait_for(timeout=HANG_GUARD_S * 1000)
    assert finished.get_attribute("data-status") == "Completed"
    assert page.evaluate("window.__not_reloaded") is True


def test_advancing_the_clock_from_the_page_expires_the_session(
    page: Any, inspector_emulator: EmulatorProcess, cli: Cli, tmp_path: Path
) -> None:
    emu = inspector_emulator
    # A gallery whose one memory has metadata only; its asset upload is then staged (one chunk sent).
    manifest, gallery_id = write_manifest(tmp_path / "g", title="Staged", files=0, metadata_only=1)
    assert cli(emu, "store-gallery", str(manifest)).returncode == 0
    memory_id = json.loads(manifest.read_text())["memories"][0]["id"]
    upload = tmp_path / "staged.bin"
    upload.write_bytes(b"\x01" * (4 * 1024))
    run = cli(
        emu, "upload", str(upload), "--memory-id", memory_id, "--chunk-size", "1024", "--stop-after", "1"
    )
    assert run.returncode == 0 and json.loads(run.stdout)["result"]["completed"] is False, run.stdout
    page.goto(emu.admin_url + "/")
    assert _row(page, gallery_id).locator("[data-badge]").inner_text() == "Storing…"
    page.goto(emu.admin_url + "/inspector/uploads")
    live = page.locator("#live-sessions tr[data-session]")
    assert live.count() == 1 and live.get_attribute("data-status") == "Active"
    session_id = live.get_attribute("data-session")

    page.goto(emu.admin_url + "/inspector/controls")
    before = page.locator("[data-clock]").first.inner_text()
    page.locator(".advance-input").first.fill("31m")
    with page.expect_navigation():
        page.locator('[data-action="advance-clock"]').first.click()
    assert page.locator("[data-clock]").first.inner_text() != before
    assert page.locator("[data-offset]").first.inner_text().startswith("31.")
    screenshot(page, "controls")

    page.goto(emu.admin_url + "/inspector/uploads")
    expired = page.locator(f'tr[data-session="{session_id}"]')
    expired.first.wait_for()
    assert expired.first.get_attribute("data-status") == "Expired"
    assert "lifetime ended" in expired.first.inner_text()
    page.goto(emu.admin_url + "/")
    assert _row(page, gallery_id).locator("[data-badge]").inner_text() == "Partially on ICP"


def test_fault_rule_added_on_the_page_fails_the_next_cli_call(
    page: Any, inspector_emulator: EmulatorProcess, cli: Cli
) -> None:
    emu = inspector_emulator
    memory_id = new_id()
    assert cli(emu, "presence", memory_id).returncode == 0

    page.goto(emu.admin_url + "/inspector/controls")
    page.select_option("#fault-action", "reject")
    page.fill("#fault-method", "get_memory_list_presence_icp")
    page.fill("#fault-reject-code", "5")
    page.fill("#fault-reject-message", "Fault injected from the inspector page")
    with page.expect_navigation():
        page.click('[data-action="add-fault"]')
    assert page.locator("tr[data-rule]").count() == 1
    with AdminClient(emu.admin_url) as admin:
        assert [r["method"] for r in admin.faults()] == ["get_memory_list_presence_icp"]

    failed = cli(emu, "presence", memory_id)
    assert failed.returncode != 0
    assert "Fault injected from the inspector page" in failed.stdout + failed.stderr

    with page.expect_navigation():
        page.click('[data-action="clear-faults"]')
    assert page.locator("#no-faults").is_visible()
    assert cli(emu, "presence", memory_id).returncode == 0


def test_reset_needs_its_confirmation_step(
    page: Any, inspector_emulator: EmulatorProcess, cli: Cli, tmp_path: Path
) -> None:
    emu = inspector_emulator
    manifest, gallery_id = write_manifest(tmp_path / "g", title="To be wiped", files=1)
    assert cli(emu, "store-gallery", str(manifest)).returncode == 0
    page.goto(emu.admin_url + "/inspector/controls")
    page.click('[data-action="reset-ask"]')
    page.click('[data-action="reset-cancel"]')
    page.goto(emu.admin_url + "/")
    assert _row(page, gallery_id).count() == 1  # asking and cancelling changed nothing
    page.goto(emu.admin_url + "/inspector/controls")
    page.click('[data-action="reset-ask"]')
    with page.expect_navigation():
        page.click('[data-action="reset-confirm"]')
    page.goto(emu.admin_url + "/")
    assert _row(page, gallery_id).count() == 0


def test_admin_token_gates_the_page_and_its_controls(browser: Any, tmp_path: Path) -> None:
    token = "s3cret-" + new_id()
    emu = EmulatorProcess(
        tmp_path / "state", canisters=[f"artifact={DEFAULT_ID}"], extra_args=["--admin-token", token]
    )
    emu.start()
    context = browser.new_context()
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        pages = ("/", "/inspector/controls", "/inspector/uploads", "/inspector/audit", "/inspector/metrics")
        for path in pages:
            response = page.goto(emu.admin_url + path)
            assert response.status == 401
            assert page.locator("#token-input").is_visible()
            assert page.locator("table").count() == 0  # no state rendered without the token
        # The script's own API call (the same route the CLI uses) is refused too.
        status = page.evaluate(
            """async () => (await fetch('/faults', {method: 'POST', headers: {'Content-Type':
            'application/json'}, body: JSON.stringify({action: 'reject'})})).status"""
        )
        assert status == 401
        events = page.evaluate("async () => (await fetch('/inspector/events')).status")
        assert events == 401
        with AdminClient(emu.admin_url, token=token) as admin:
            assert admin.faults() == []

        page.fill("#token-input", "wrong")
        page.click("#token-submit")
        page.locator("#token-error").wait_for()
        assert "wrong" in page.locator("#token-error").inner_text()
        assert context.cookies() == []
        screenshot(page, "token")

        page.fill("#token-input", token)
        with page.expect_navigation():
            page.click("#token-submit")
        (cookie,) = context.cookies()
        assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == ("sf_admin_token", True, "Strict")
        assert page.locator("h1").inner_text() == "Metrics at a glance"  # the page asked for, now shown
        page.goto(emu.admin_url + "/")
        assert page.locator("h1").inner_text() == "Galleries"

        page.goto(emu.admin_url + "/inspector/controls")
        page.select_option("#fault-action", "latency")
        page.fill("#fault-latency", "5")
        with page.expect_navigation():
            page.click('[data-action="add-fault"]')
        with AdminClient(emu.admin_url, token=token) as admin:
            assert [r["action"] for r in admin.faults()] == ["latency"]

        # The cookie gone behind the page's back: the API answers 401, the page asks for the token.
        context.clear_cookies()
        page.click('[data-action="clear-faults"]')
        page.locator("#token-panel").wait_for(state="visible")
        assert "Refused" in page.locator("#flash").inner_text()
        with AdminClient(emu.admin_url, token=token) as admin:
            assert len(admin.faults()) == 1
        page.fill("#token-panel #token-input", token)
        with page.expect_navigation():
            page.click("#token-panel #token-submit")
        with page.expect_navigation():
            page.click('[data-action="clear-faults"]')
        with AdminClient(emu.admin_url, token=token) as admin:
            assert admin.faults() == []

        with page.expect_navigation():
            page.click("#forget-token")
        assert page.locator("#token-input").is_visible()
        assert context.cookies() == []
    finally:
        context.close()
        emu.stop()


class _ForeignSite(BaseHTTPRequestHandler):
    """Serves one page from another local port that tries to drive the admin listener."""

    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_page_from_another_origin_cannot_drive_the_controls(
    page: Any, inspector_emulator: EmulatorProcess
) -> None:
    emu = inspector_emulator
    admin_url = emu.admin_url
    script = f"""<!doctype html><html><body><pre id="out"></pre><script>
    const admin = {json.dumps(admin_url)};
    const results = {{}};
    async function attempt(name, init, path) {{
      try {{
        const r = await fetch(admin + path, init);
        results[name] = r.type === 'opaque' ? 'opaque' : r.status;
      }} catch (e) {{ results[name] = 'blocked'; }}
    }}
    (async () => {{
      await attempt('json', {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
        body: JSON.stringify({{action: 'reject'}})}}, '/faults');
      await attempt('simple', {{method: 'POST', mode: 'no-cors', headers: {{'Content-Type': 'text/plain'}},
        body: JSON.stringify({{action: 'reject'}})}}, '/faults');
      await attempt('reset', {{method: 'POST', mode: 'no-cors', body: '{{}}'}},
        '/canisters/{DEFAULT_ID}/reset');
      await attempt('cookie', {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
        body: JSON.stringify({{token: 'x'}}), credentials: 'include'}}, '/inspector/session');
      await attempt('read', {{}}, '/inspector/controls');
      document.getElementById('out').textContent = JSON.stringify(results);
    }})();
    </script>
    <form id="f" method="post" action="{admin_url}/faults" enctype="text/plain">
    <input name='{{"action":"reject","x":"' value='"}}'></form></body></html>"""
    handler = type("Foreign", (_ForeignSite,), {"page": script.encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.locator("#out:not(:empty)").wait_for()
        results = json.loads(page.locator("#out").inner_text())
        assert results["json"] == "blocked"  # preflight refused
        assert results["simple"] == "opaque" and results["reset"] == "opaque"  # sent, refused (checked below)
        assert results["cookie"] == "blocked" and results["read"] == "blocked"
        # A classic cross-site form post navigates to the listener, which refuses it.
        with page.expect_navigation() as navigation:
            page.evaluate("document.getElementById('f').submit()")
        assert navigation.value.status == 403
    finally:
        server.shutdown()
    with AdminClient(admin_url) as admin:
        assert admin.faults() == []
        assert admin.clock(DEFAULT_ID)["clock_offset_ns"] == 0


def test_event_stream_subscribers_are_capped(inspector_emulator: EmulatorProcess) -> None:
    """Many open pages cannot multiply the work: past the cap the stream answers 503."""
    url = inspector_emulator.admin_url + "/inspector/events"
    with httpx.Client(timeout=10) as http:
        streams = []
        try:
            for _ in range(16):
                response = http.send(http.build_request("GET", url), stream=True)
                assert response.status_code == 200
                streams.append(response)
            refused = http.get(url)
            assert refused.status_code == 503 and "at most 16" in refused.json()["error"]
        finally:
            for response in streams:
                response.close()
        # Closed streams free their places.
        deadline = time.monotonic() + HANG_GUARD_S
        while True:
            response = http.send(http.build_request("GET", url), stream=True)
            status = response.status_code
            response.close()
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == 200


def test_snapshot_download_restore_and_upgrade_from_the_page(
    page: Any, inspector_emulator: EmulatorProcess, cli: Cli, tmp_path: Path
) -> None:
    emu = inspector_emulator
    kept, kept_id = write_manifest(tmp_path / "kept", title="Before the snapshot", files=1)
    assert cli(emu, "store-gallery", str(kept)).returncode == 0
    page.goto(emu.admin_url + "/inspector/controls")
    with page.expect_download() as download_info:
        page.click("#snapshot-download")
    archive = tmp_path / "snapshot.zip"
    download_info.value.save_as(archive)
    with zipfile.ZipFile(archive) as zf:
        assert "manifest.json" in zf.namelist()

    later, later_id = write_manifest(tmp_path / "later", title="After the snapshot", files=1)
    assert cli(emu, "store-gallery", str(later)).returncode == 0
    page.goto(emu.admin_url + "/inspector/controls")
    page.set_input_files("#restore-file", str(archive))
    with page.expect_navigation():
        page.click('[data-action="restore"]')
    page.goto(emu.admin_url + "/")
    assert _row(page, kept_id).count() == 1 and _row(page, later_id).count() == 0

    page.goto(emu.admin_url + "/inspector/controls")
    with AdminClient(emu.admin_url) as admin:
        before = admin.canisters()[0]["module_hash"]
    with page.expect_navigation():
        page.click('[data-action="upgrade"]')
    assert page.locator("#flash").is_hidden()
    page.goto(emu.admin_url + "/")
    assert _row(page, kept_id).locator("[data-badge]").inner_text() == "Stored forever"  # state kept
    with AdminClient(emu.admin_url) as admin:
        assert admin.canisters()[0]["module_hash"] == before


def test_refusals_render_bounded_pages(page: Any, inspector_emulator: EmulatorProcess) -> None:
    """Malformed filters and unknown ids answer 4xx pages with the reason, never a 500."""
    base = inspector_emulator.admin_url
    cases = {
        "/?owner=not-a-principal": 400,
        "/inspector/gallery?id=%3Cscript%3Ealert(1)%3C/script%3E": 400,
        "/inspector/gallery": 404,
        "/inspector/audit?before=-5": 400,
        "/inspector/uploads?before_finished=zz": 400,
        "/?canister=aaaaa-aa": 404,
    }
    for path, status in cases.items():
        response = page.goto(base + path)
        assert response.status == status, path
        assert page.locator("#page-error").inner_text()
    page.goto(base + "/inspector/gallery?id=%3Cscript%3Ewindow.__x%3D1%3C/script%3E")
    assert page.evaluate("window.__x") is None
    assert "<script>window.__x=1</script>" in page.locator("#page-error").inner_text()
