"""`SuiteClient`: the engineers' `ArtifactClient`, observed, never replaced.

The suite must fail where an application would fail, so every call goes through
`clients.artifact.ArtifactClient` (its Candid types, its reply checks, its error classes). What the
suite needs differently is configuration plus one observer (`SuiteObserver`), attached through the
client's public `ClientOptions`:

* no retries and no circuit breaker: a conformance test must see each refusal the target gives, not
  the client's recovery from it (a retried rate-limit error would hide the rule under test);
* a call to a contract method the target does not declare skips the test as "not implemented by
  target" instead of erroring, whatever the test's markers say (the observer's veto);
* the decoded reply (the `ICPResult` envelope as it came off the wire, before the client unwraps it)
  is kept in `last_raw` for error-model assertions and recorded for parity snapshots;
* the bytes each upload sends are remembered and, after every successful commit, compared with what
  the target stored where it can say (`stored_bytes.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any, cast

import pytest

from clients.artifact.client import ArtifactClient, icp_payload
from clients.artifact.errors import ArtifactError
from clients.artifact.pipeline import Call, CallReport, ClientOptions
from clients.artifact.retry import RetryPolicy
from clients.ic import Connection

from .catalog import NOT_IMPLEMENTED
from .snapshot import Recorder
from .stored_bytes import StoredBytes

__all__ = ["SuiteClient", "SuiteObserver"]


class SuiteObserver:
    """Skips what the target lacks, keeps each thread's last reply, records calls for snapshots."""

    def __init__(
        self,
        label: str,
        target_methods: Collection[str],
        recorder: Recorder | None,
        stored_bytes: StoredBytes | None,
    ) -> None:
        self.label = label
        self.target_methods = frozenset(target_methods)
        self.recorder = recorder
        self.stored_bytes = stored_bytes
        self._local = threading.local()

    @property
    def last_raw(self) -> Any:
        """The last decoded reply this thread received (None after a transport-level failure)."""
        return getattr(self._local, "raw", None)

    def before_call(self, call: Call) -> None:
        if call.method not in self.target_methods:
            pytest.skip(f"{NOT_IMPLEMENTED}{call.method}")

    def after_call(self, report: CallReport) -> None:
        error = report.error
        if error is not None and not isinstance(error, ArtifactError):
            self._local.raw = None  # a programming error, not an answer of the target: not recorded
            return
        self._local.raw = report.reply
        self._record(report, error)
        if error is None and self.stored_bytes is not None:
            self.stored_bytes.observe(report.call.method, report.call.args, report.result)

    def _record(self, report: CallReport, error: ArtifactError | None) -> None:
        if self.recorder is None:
            return
        entry: dict[str, Any] = {"call": report.call.method, "as": self.label, "args": list(report.call.args)}
        if report.replies:
            entry["reply"] = report.reply
        elif error is not None:
            # No reply to show: the target rejected the call or answered outside the protocol.
            entry["failure"] = {
                "kind": error.kind,
                "reject_code": error.reject_code,
                "http_status": error.http_status,
            }
        self.recorder.record(entry)


class SuiteClient(ArtifactClient):
    """One principal talking to the target; `label` names it in snapshots ("alice", "anonymous").

    An `ArtifactClient` built with the suite's options; the subclass only adds access to its observer
    (and overrides nothing, so the call path is the application's own).
    """

    def __init__(
        self,
        connection: Connection,
        canister_id: str,
        *,
        label: str,
        target_methods: Collection[str],
        recorder: Recorder | None,
        did_text: str,
        stored_bytes: StoredBytes | None = None,
    ) -> None:
        self.observer = SuiteObserver(label, target_methods, recorder, stored_bytes)
        options = ClientOptions(
            retry_policy=RetryPolicy.none(), budget=None, breaker=None, observers=(self.observer,)
        )
        super().__init__(connection, canister_id, options, did_text=did_text)

    @property
    def connection(self) -> Connection:
        """The suite's agent, typed as such: tests read its verification settings."""
        return cast(Connection, super().connection)

    @property
    def label(self) -> str:
        return self.observer.label

    @property
    def last_raw(self) -> Any:
        """The last decoded reply this thread received (None after a transport-level failure)."""
        return self.observer.last_raw

    def observe(self, recorder: Recorder | None) -> None:
        """Record into another test's recorder (clients made by module-scoped fixtures)."""
        self.observer.recorder = recorder

    def call_icp(self, method: str, *args: Any) -> Any:
        """Call an `ICPResult` method with arguments the typed method would not send as given
        (e.g. an empty idempotency key, which `upsert_metadata` replaces by a computed one); the
        payload is unwrapped and failures raised exactly as the typed methods do."""
        return self.invoke(method, args, icp_payload)
