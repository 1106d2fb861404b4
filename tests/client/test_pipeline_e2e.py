"""The client's public seam against a real emulator: observers, their veto, and options that remove a
layer (``breaker=None``) or change one for a derived client (``with_options``).

These are the guarantees the conformance suite and the load tests build on instead of overriding the
client's internals, so each is checked here where the client lives.
"""

from __future__ import annotations

import pytest

from clients.admin import AdminClient
from clients.artifact import (
    BreakerState,
    Call,
    CallReport,
    CircuitBreaker,
    CircuitOpenError,
    RetryEvent,
    RetryPolicy,
    TransientError,
    ValidationError,
)
from clients.artifact.types import MemoryType, SimpleMemoryMetadata
from tests.client.conftest import FAST, make_client, new_id
from tests.emulator_process import EmulatorProcess


class Vetoed(Exception):
    """Raised by ``Watcher.before_call`` for the methods it was told to refuse."""


class Watcher:
    """A ``CallObserver`` that keeps what it is shown and refuses the methods in ``veto``."""

    def __init__(self, veto: frozenset[str] = frozenset()) -> None:
        self.veto = veto
        self.calls: list[Call] = []
        self.reports: list[CallReport] = []

    def before_call(self, call: Call) -> None:
        self.calls.append(call)
        if call.method in self.veto:
            raise Vetoed(call.method)

    def after_call(self, report: CallReport) -> None:
        self.reports.append(report)


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read through a function so mypy does not narrow a property that time changes."""
    return breaker.state


def test_an_observer_sees_each_call_with_its_reply_result_and_error(
    artifact_emulator: EmulatorProcess,
) -> None:
    watcher = Watcher()
    client = make_client(artifact_emulator.url, observers=(watcher,))
    mid = new_id()
    stored = client.upsert_metadata(mid, MemoryType.NOTE, SimpleMemoryMetadata(title="t"))
    presence = client.get_memory_presence_icp(mid)
    with pytest.raises(ValidationError) as refused:
        client.begin_asset_upload("not-a-uuid", "0" * 64, 1, 1)

    upsert, query, begin = watcher.reports
    assert watcher.calls == [upsert.call, query.call, begin.call]
    assert [(r.call.method, r.call.kind) for r in watcher.reports] == [
        ("upsert_metadata", "update"),
        ("get_memory_presence_icp", "query"),
        ("begin_asset_upload", "update"),
    ]
    assert upsert.call.args[0] == mid
    assert upsert.result is stored and upsert.error is None and upsert.reply["success"] is True
    assert query.result == presence and presence.metadata_present
    # A refusal the canister answered is an error *with* a reply: the envelope as it came off the wire.
    assert begin.error is refused.value and begin.result is None
    assert begin.reply["success"] is False and begin.reply["error"]
    for report in watcher.reports:
        assert len(report.replies) == 1 and report.reply_bytes > 0


def test_a_veto_before_the_call_sends_nothing(artifact_emulator: EmulatorProcess) -> None:
    watcher = Watcher(veto=frozenset({"upsert_metadata"}))
    client = make_client(artifact_emulator.url, observers=(watcher,))
    mid = new_id()
    with pytest.raises(Vetoed):
        client.upsert_metadata(mid, MemoryType.NOTE, SimpleMemoryMetadata(title="t"))
    assert watcher.reports == [], "a vetoed call has no report"
    assert not client.get_memory_presence_icp(mid).metadata_present, "the vetoed write reached the canister"
    assert [c.method for c in watcher.calls] == ["upsert_metadata", "get_memory_presence_icp"]


def test_a_retried_call_is_one_report_with_every_attempt_inside(
    faulty_emulator: EmulatorProcess, admin: AdminClient
) -> None:
    watcher, retries = Watcher(), list[RetryEvent]()
    client = make_client(faulty_emulator.url, observers=(watcher,), on_retry=retries.append)
    mid = new_id()
    client.get_memory_presence_icp(mid)  # node keys fetched while healthy
    admin.add_fault(action="reject", method="get_memory_presence_icp", count=2, reject_code=2)
    assert client.get_memory_presence_icp(mid).asset_present is False
    assert len(retries) == 2 and admin.faults() == [], "both injected rejects were met"
    assert len(watcher.reports) == 2, "one report per call, not per attempt"
    retried = watcher.reports[-1]
    assert retried.error is None and len(retried.replies) == 1  # the two rejects carried no reply


def test_without_a_breaker_every_call_reaches_the_target(
    faulty_emulator: EmulatorProcess, admin: AdminClient
) -> None:
    breaker = CircuitBreaker(failure_threshold=2, window_seconds=30.0, cool_down_seconds=60.0)
    guarded = make_client(faulty_emulator.url, policy=RetryPolicy.none(), breaker=breaker)
    unguarded = guarded.with_options(breaker=None)
    assert unguarded.connection is guarded.connection
    assert unguarded.options.budget is guarded.options.budget
    mid = new_id()
    guarded.get_memory_presence_icp(mid)  # node keys fetched while healthy
    admin.add_fault(action="http_status", method="*", http_status=503, count=1000)
    for _ in range(2):
        with pytest.raises(TransientError):
            guarded.get_memory_presence_icp(mid)
    with pytest.raises(CircuitOpenError):
        guarded.get_memory_presence_icp(mid)
    fired = admin.faults()[0]["fired"]
    for _ in range(5):
        with pytest.raises(TransientError):
            unguarded.get_memory_presence_icp(mid)
    assert admin.faults()[0]["fired"] == fired + 5
    assert state_of(breaker) is BreakerState.OPEN, "the derived client left the shared breaker alone"


def test_options_are_a_value_and_a_changed_client_keeps_the_rest(artifact_emulator: EmulatorProcess) -> None:
    watcher = Watcher()
    client = make_client(artifact_emulator.url, observers=(watcher,))
    slow = client.with_options(retry_policy=RetryPolicy(retries=7))
    assert client.options.retry_policy == FAST and slow.options.retry_policy.retries == 7
    assert slow.options.breaker is client.options.breaker and slow.options.observers == (watcher,)
    with pytest.raises(TypeError):
        client.with_options(no_such_option=1)
    with pytest.raises(AttributeError):
        client.connection = client.connection  # type: ignore[misc]  # fixed at construction
    slow.whoami()
    assert [r.call.method for r in watcher.reports] == ["whoami"]
