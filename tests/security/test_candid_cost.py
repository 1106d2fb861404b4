"""Candid arguments built to be cheap on the wire and dear to decode, sent as real signed calls.

Before: the decoder's budget grew with the message (8 steps per byte), so a 2 MiB argument such as
`vec record {}` of 2^40 elements spent 6-7 s on the canister's worker thread before it was refused, and
four in parallel held up an ordinary query for 25 s. Now the budget is capped (`decoder.MAX_FUEL`, about
80 ms of work), zero-sized elements are charged in bulk before any is read, and everything else is
priced by what it costs Python; the refusal is the replica's trap reject (code 5, IC0503) carrying the
Candid decoder's message. The cases and their measured costs are benchmarks/hostile_decode.py's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from benchmarks.hostile_decode import Case, all_cases, run_case
from clients.admin import AdminClient
from clients.ic import Connection, Reject, generate_ed25519
from emulator.candid import PRINCIPAL, decode_args
from tests.e2e.artifact_calls import CANISTER, Artifact
from tests.emulator_process import EmulatorProcess
from tests.security.conftest import probe_status

HANG_GUARD = 60.0  # seconds: "the emulator stopped answering", never a speed requirement
QUERY_METHODS = {"whoami", "get_memory_list_presence_icp"}

CASES = [case for case in all_cases() if case.did_types is None and not case.name.startswith("floor")]
REFUSED = [case for case in CASES if case.expect_refusal]
DECODED = [case for case in CASES if not case.expect_refusal and case.method == "whoami"]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("candid-cost") / "state",
        canisters=[f"artifact={CANISTER}"],
        extra_args=["--quiet"],
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def conn(emu: EmulatorProcess) -> Iterator[Connection]:
    connection = Connection(emu.url, generate_ed25519(), timeout=HANG_GUARD, update_timeout=HANG_GUARD)
    yield connection
    connection.close()


def stored_state(emu: EmulatorProcess) -> dict[str, Any]:
    admin = AdminClient(emu.admin_url)
    views = ("galleries", "memories", "sessions", "assets", "audit")
    return {view: admin.inspect(CANISTER, view, limit="100") for view in views}


def expected_reject(case: Case) -> str:
    """The replica's trap text around what the decoder itself says about these bytes."""
    outcome = run_case(case)
    assert outcome.startswith("refused: "), f"{case.name} decodes in-process: {outcome}"
    reason = outcome.removeprefix("refused: ")
    return (
        f"Error from Canister {CANISTER}: Canister called `ic0.trap` with message: "
        f"'failed to decode call arguments: {reason}'."
    )


def kinds(case: Case) -> list[str]:
    return ["update", "query"] if case.method in QUERY_METHODS else ["update"]


def send(conn: Connection, kind: str, case: Case) -> bytes:
    if kind == "query":
        return conn.query_raw(CANISTER, case.method, case.arg)
    return conn.update_raw(CANISTER, case.method, case.arg)


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_a_costly_argument_is_refused_with_the_decoding_reject(
    emu: EmulatorProcess, conn: Connection, case: Case
) -> None:
    before = stored_state(emu)
    expected = expected_reject(case)
    for kind in kinds(case):
        with pytest.raises(Reject) as refused:
            send(conn, kind, case)
        assert (refused.value.reject_code, refused.value.error_code) == (5, "IC0503"), kind
        assert refused.value.reject_message == expected, kind
    assert stored_state(emu) == before


@pytest.mark.parametrize("case", DECODED, ids=[c.name for c in DECODED])
def test_an_affordable_argument_of_the_same_shapes_is_decoded(conn: Connection, case: Case) -> None:
    caller = conn.identity.sender().to_str()
    for kind in kinds(case):
        # whoami answers with the caller: the extra argument was read, checked and skipped.
        (principal,) = decode_args(send(conn, kind, case), [PRINCIPAL])
        assert principal.to_text() == caller, kind


def test_an_ordinary_query_is_answered_while_bombs_run(emu: EmulatorProcess, conn: Connection) -> None:
    before = stored_state(emu)
    bombs = [c for c in REFUSED if "2^40" in c.name or "one-byte elements" in c.name][:6]
    stop = threading.Event()
    rejects: list[int] = []

    def attack(worker: int) -> None:
        attacker = Connection(emu.url, generate_ed25519(), timeout=HANG_GUARD, update_timeout=HANG_GUARD)
        try:
            for round_ in range(3):
                for case in bombs:
                    if stop.is_set():
                        return
                    try:
                        send(attacker, "update" if (worker + round_) % 2 else "query", case)
                    except Reject as exc:
                        rejects.append(exc.reject_code)
        finally:
            attacker.close()

    probe = Artifact(Connection(emu.url, generate_ed25519(), timeout=HANG_GUARD))
    with ThreadPoolExecutor(max_workers=4) as pool:
        attackers = [pool.submit(attack, worker) for worker in range(4)]
        try:
            for _ in range(8):
                # Hang guards only: the probe must be answered at all while the bombs are decoded.
                assert probe.raw("get_api_version")
                assert probe_status(emu.url, HANG_GUARD) == 200
        finally:
            stop.set()
            for attacker in attackers:
                attacker.result(timeout=10 * HANG_GUARD)
    assert rejects and set(rejects) == {5}
    assert stored_state(emu) == before
