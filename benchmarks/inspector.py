"""The inspector page's cost: load time of a 10,000-memory gallery, and what an open page costs updates.

State is built in-process through the canister's own methods (as `benchmarks.scaling` does): one
owner with N memories (metadata and a committed one-chunk asset each), one gallery listing all of
them, and an audit trail padded to `--audit-rows` with refused calls. An emulator process is then
started on that state and measured over real HTTP:

* page load: the galleries list (badge counts over all N memories) and the gallery page (summary and
  first 100 memories), as HTTP round trips and, with Debian's Chromium, as browser navigations to
  the load event;
* update round trip: the median `upsert_metadata` call with no page open, and with the live uploads
  page open in Chromium and streaming (its event stream notified by every call), interleaved in one
  run so machine noise hits both alike. The ratio is the figure to read.

    python -m benchmarks.inspector --memories 10000 --audit-rows 100000 --reps 300
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.seeding import store_photo
from clients.artifact import ArtifactClient
from clients.artifact.types import MemoryType, SimpleMemoryMetadata
from clients.ic import Connection, generate_ed25519
from emulator.canisters.artifact import ArtifactCanister
from emulator.principal import Principal
from emulator.process import DEFAULT_ID, EmulatorProcess
from emulator.runtime.canister import CallContext
from emulator.runtime.clock import CanisterClock
from emulator.runtime.host import CanisterHost
from emulator.runtime.stable_store import StableStore

CID = Principal.from_text(DEFAULT_ID)
OWNER = Principal.self_authenticating(b"inspector-benchmark-owner")
BATCH = 2000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def populate(state_dir: Path, memories: int, audit_rows: int) -> str:
    """Returns the gallery id. Every write goes through the canister, so audit rows are real ones."""
    db_path = state_dir / "canisters" / f"{DEFAULT_ID}.sqlite3"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    store = StableStore(db_path, durability="normal")
    # One owner begins N uploads "today": lift the daily quota for the build only.
    limits = {"daily_upload_quota": memories + 1}
    host = CanisterHost(CID, ArtifactCanister, store, CanisterClock(store), config=limits)
    canister = host.instance
    assert isinstance(canister, ArtifactCanister)
    memory_ids: list[str] = []
    written = 0  # audit rows
    while len(memory_ids) < memories:
        with store.atomic() as db:
            for _ in range(min(BATCH, memories - len(memory_ids))):
                ctx = CallContext(caller=OWNER, time_ns=host.clock.now(), canister_id=CID, method="x", db=db)
                memory_id = str(uuid.uuid4())
                data = len(memory_ids).to_bytes(8, "big") * 8
                store_photo(canister, ctx, memory_id, data, f"memory {len(memory_ids)}")
                memory_ids.append(memory_id)
                written += 4
    stranger = Principal.self_authenticating(b"inspector-benchmark-stranger")
    while written < audit_rows:
        with store.atomic() as db:
            ctx = CallContext(caller=stranger, time_ns=host.clock.now(), canister_id=CID, method="x", db=db)
            for _ in range(min(BATCH, audit_rows - written)):
                canister.cancel_upload(ctx, "no-such-session")
                written += 1
    gallery_id = str(uuid.uuid4())
    entries = [
        {"memory_id": m, "position": i, "gallery_caption": None, "is_featured": False, "gallery_metadata": ""}
        for i, m in enumerate(memory_ids)
    ]
    gallery: Any = {
        "id": gallery_id,
        "owner_principal": OWNER,
        "title": f"{memories:,} memories",
        "description": None,
        "is_public": False,
        "created_at": 1,
        "updated_at": 1,
        "storage_status": {"Web2Only": None},
        "memory_entries": entries,
    }
    with store.atomic() as db:
        ctx = CallContext(caller=OWNER, time_ns=host.clock.now(), canister_id=CID, method="x", db=db)
        reply: Any = canister.store_gallery_forever(ctx, {"gallery": gallery, "owner_principal": OWNER})
        assert reply["success"], reply
    store.close()
    return gallery_id


def http_load_ms(url: str, reps: int) -> float:
    with httpx.Client(timeout=60) as http:
        http.get(url).raise_for_status()
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            response = http.get(url)
            times.append(time.perf_counter() - t)
            response.raise_for_status()
    return statistics.median(times) * 1e3


def browser_load_ms(page: Any, url: str, reps: int) -> float:
    page.goto(url, wait_until="load")
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        page.goto(url, wait_until="load")
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def update_round_trips_ms(client: ArtifactClient, reps: int) -> list[float]:
    note = SimpleMemoryMetadata(
        title="bench", description=None, tags=(), created_at=1, updated_at=1, size=None,
        content_type=None, custom_fields=(),
    )  # fmt: skip
    times = []
    for _ in range(reps):
        memory_id = str(uuid.uuid4())
        t = time.perf_counter()
        client.upsert_metadata(memory_id, MemoryType.NOTE, note)
        times.append(time.perf_counter() - t)
    return [x * 1e3 for x in times]


def reloading_round_trips(client: ArtifactClient, page_url: str, calls: int) -> list[float]:
    """Update round trips while another thread reloads the 10,000-memory gallery page back to back
    (a worst case: a person reloads a few times a minute, this reloads continuously)."""
    stop = threading.Event()
    loads = 0

    def reload() -> None:
        nonlocal loads
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                http.get(page_url).raise_for_status()
                loads += 1

    thread = threading.Thread(target=reload, daemon=True)
    thread.start()
    try:
        return update_round_trips_ms(client, calls)
    finally:
        stop.set()
        thread.join()
        print(f"gallery page reloaded {loads} times during {calls} update calls", flush=True)


def run(memories: int, audit_rows: int, reps: int, rounds: int) -> dict[str, Any]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        t = time.perf_counter()
        gallery_id = populate(state, memories, audit_rows)
        print(
            f"populated {memories:,} memories, {audit_rows:,} audit rows in {time.perf_counter() - t:.1f} s"
        )
        proc = EmulatorProcess(state, canisters=[f"artifact={DEFAULT_ID}"], extra_args=["--quiet"]).start()
        try:
            admin = proc.admin_url
            figures: dict[str, Any] = {
                "memories": memories,
                "audit_rows": audit_rows,
                "http_galleries_ms": http_load_ms(f"{admin}/", 20),
                "http_gallery_ms": http_load_ms(f"{admin}/inspector/gallery?id={gallery_id}", 20),
                "http_audit_ms": http_load_ms(f"{admin}/inspector/audit", 20),
                "http_audit_method_filter_ms": http_load_ms(f"{admin}/inspector/audit?method=put_chunk", 20),
            }
            client = ArtifactClient(Connection(proc.url, generate_ed25519()), DEFAULT_ID)
            update_round_trips_ms(client, 20)  # warm-up
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = browser.new_page()
                figures["browser_gallery_load_ms"] = browser_load_ms(
                    page, f"{admin}/inspector/gallery?id={gallery_id}", 10
                )
                figures["browser_galleries_load_ms"] = browser_load_ms(page, f"{admin}/", 10)
                closed: list[float] = []
                streaming: list[float] = []
                events_seen = 0
                for _ in range(rounds):
                    page.goto("about:blank")
                    closed += update_round_trips_ms(client, reps)
                    page.goto(f"{admin}/inspector/uploads", wait_until="load")
                    # A second stream counts the events delivered (the page's own one moves the bars).
                    page.evaluate(
                        "window.__events = 0; new EventSource('/inspector/events')"
                        ".addEventListener('uploads', () => window.__events++)"
                    )
                    streaming += update_round_trips_ms(client, reps)
                    page.wait_for_timeout(500)
                    events_seen += int(page.evaluate("window.__events"))
                browser.close()
            figures["update_while_gallery_reloads_ms"] = statistics.median(
                reloading_round_trips(client, f"{admin}/inspector/gallery?id={gallery_id}", reps * rounds)
            )
            figures["update_no_page_ms"] = statistics.median(closed)
            figures["update_page_streaming_ms"] = statistics.median(streaming)
            figures["update_ratio"] = figures["update_page_streaming_ms"] / figures["update_no_page_ms"]
            figures["update_reloading_ratio"] = (
                figures["update_while_gallery_reloads_ms"] / figures["update_no_page_ms"]
            )
            figures["update_calls_each"] = len(closed)
            figures["stream_events_received"] = events_seen
        finally:
            proc.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--audit-rows", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=200, help="update calls per round and condition")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved no-page / streaming rounds")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    figures = run(args.memories, args.audit_rows, args.reps, args.rounds)
    for key, value in figures.items():
        print(f"{key:32} {value:.2f}" if isinstance(value, float) else f"{key:32} {value}")
    if args.json:
        args.json.write_text(json.dumps({"inspector": figures}, indent=2))


if __name__ == "__main__":
    main()
