"""A caller's costly arguments do not hold up other callers: decoding runs off the canister's thread.

One identity sends many arguments that each cost the decoder its whole budget, all at once. They are
decoded one at a time in that caller's own line (`emulator/server/decoding.py`), not on the canister's
worker thread, so a query from someone else is answered while most of them still wait. Observed by
order of events, never by timing: the test waits (hang guard only) until the emulator's metrics show
the attacker's decodes queued in their line, then checks that the probe's answer arrived while some
of the attacker's requests were still unanswered. With decoding back on the worker, the probe would
queue behind every bomb sent before it (and the line would never show on /metrics); with no line
per caller, the bombs would all run at once and none would wait.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from benchmarks.hostile_decode import all_cases
from clients.ic import Connection, Reject, generate_ed25519
from emulator.principal import Principal
from emulator.server.decoding import DecodeScheduler
from tests.e2e.artifact_calls import CANISTER
from tests.emulator_process import EmulatorProcess

HANG_GUARD = 60.0  # seconds: "the emulator stopped answering", never a speed requirement
BOMBS = 16
QUEUED = 8  # attacker decodes waiting in their line before the probe is sent
COSTLIEST = next(c for c in all_cases() if c.name.startswith("vec vec null (empty"))


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("decode-fairness") / "state",
        canisters=[f"artifact={CANISTER}"],
        extra_args=["--quiet"],
    ) as proc:
        yield proc


def decodes(admin_url: str, state: str) -> int:
    text = httpx.get(f"{admin_url}/metrics", timeout=HANG_GUARD).text
    found = re.search(rf'^storeforever_candid_decodes\{{state="{state}"\}} (\S+)$', text, re.MULTILINE)
    assert found is not None, "the decode gauges are missing from /metrics"
    return int(float(found.group(1)))


def test_a_query_is_answered_while_one_callers_costly_decodes_wait_in_its_line(emu: EmulatorProcess) -> None:
    attacker = generate_ed25519()
    answered: list[str] = []
    lock = threading.Lock()

    def bomb() -> None:
        conn = Connection(emu.url, attacker, timeout=HANG_GUARD)
        try:
            with pytest.raises(Reject) as refused:
                conn.query_raw(CANISTER, COSTLIEST.method, COSTLIEST.arg)
            assert (refused.value.reject_code, refused.value.error_code) == (5, "IC0503")
            assert "failed to decode call arguments" in refused.value.reject_message
        finally:
            conn.close()
            with lock:
                answered.append("bomb")

    probe = Connection(emu.url, generate_ed25519(), timeout=HANG_GUARD)
    with ThreadPoolExecutor(max_workers=BOMBS) as pool:
        sent = [pool.submit(bomb) for _ in range(BOMBS)]
        deadline = time.monotonic() + HANG_GUARD
        while decodes(emu.admin_url, "waiting") < QUEUED:
            assert time.monotonic() < deadline, "the attacker's decodes never queued in their line"
            assert not all(f.done() for f in sent), "every bomb was answered before any queued"
        probe.query_raw(CANISTER, "get_api_version", b"DIDL\x00\x00")
        with lock:
            bombs_answered_before_probe = len(answered)
            answered.append("probe")
        for future in sent:
            future.result(timeout=HANG_GUARD)
    probe.close()
    assert bombs_answered_before_probe < BOMBS, answered
    assert answered.index("probe") < len(answered) - 1  # some bomb was answered after the probe
    assert decodes(emu.admin_url, "waiting") == decodes(emu.admin_url, "running") == 0


def test_the_scheduler_gives_each_caller_one_turn_and_others_go_past() -> None:
    """In-process, with decodes that block until released: the lines, not the clock, decide the order."""
    scheduler = DecodeScheduler(threads=4, per_caller=1)
    release = threading.Event()
    started: list[str] = []

    def blocked(name: str) -> str:
        started.append(name)
        assert release.wait(HANG_GUARD), "never released"
        return name

    async def scenario() -> list[str]:
        attacker, other = Principal.self_authenticating(b"attacker"), Principal.self_authenticating(b"other")
        bombs = [
            asyncio.create_task(scheduler.run(attacker, functools.partial(blocked, f"bomb{n}")))
            for n in range(3)
        ]
        while not started:  # the first bomb holds the attacker's turn
            await asyncio.sleep(0)
        assert (scheduler.running, scheduler.waiting) == (1, 2)
        answered = await asyncio.wait_for(scheduler.run(other, lambda: "probe"), HANG_GUARD)
        assert (scheduler.running, scheduler.waiting) == (1, 2)  # the attacker's line did not move
        release.set()
        return [answered, *await asyncio.wait_for(asyncio.gather(*bombs), HANG_GUARD)]

    try:
        assert asyncio.run(scenario()) == ["probe", "bomb0", "bomb1", "bomb2"]
        assert started == ["bomb0", "bomb1", "bomb2"]  # one at a time, in arrival order
        assert (scheduler.running, scheduler.waiting, scheduler.completed) == (0, 0, 4)
    finally:
        release.set()
        scheduler.close()
