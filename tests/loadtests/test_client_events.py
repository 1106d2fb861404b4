"""The instrumented client against a real emulator: one event per canister call, expected refusals named.

Runs without Locust (a recording hook stands in for ``events.request``), so plain threads carry the
uploader's chunk concurrency here; under Locust the same code runs on greenlets.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from clients.artifact.client import ArtifactClient
from clients.artifact.errors import RateLimitedError
from clients.artifact.types import MemoryType, SimpleMemoryMetadata
from clients.artifact.uploader import upload
from clients.ic import Connection, generate_ed25519
from emulator.process import DEFAULT_ID, EmulatorProcess
from loadtests.client import LocustObserver, locust_client, was_reported


class RecordingHook:
    """Stands in for Locust's ``events.request`` hook."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def fire(self, **event: Any) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [e["name"] for e in self.events]


@pytest.fixture
def connection(artifact_emulator: EmulatorProcess) -> Iterator[Connection]:
    conn = Connection(artifact_emulator.url)
    yield conn
    conn.close()


def client_for(conn: Connection, hook: RecordingHook, **kwargs: Any) -> ArtifactClient:
    return locust_client(
        conn.with_identity(generate_ed25519()),
        DEFAULT_ID,
        hook,  # type: ignore[arg-type]
        **kwargs,
    )


def test_each_call_is_one_event_named_after_the_method(connection: Connection) -> None:
    hook = RecordingHook()
    client = client_for(connection, hook)
    memory_id = str(uuid.uuid4())
    client.upsert_metadata(memory_id, MemoryType.NOTE, SimpleMemoryMetadata(title="t"))
    client.get_memory_presence_icp(memory_id)
    update, query = hook.events
    assert (update["request_type"], update["name"]) == ("update", "upsert_metadata")
    assert (query["request_type"], query["name"]) == ("query", "get_memory_presence_icp")
    for event in hook.events:
        assert event["exception"] is None
        assert event["response_length"] > 0, "reply bytes are counted"
        assert 0 < event["response_time"] < 10_000
        assert event["context"]["principal"] == client.principal


def test_uploader_calls_are_reported_from_its_chunk_threads(connection: Connection) -> None:
    hook = RecordingHook()
    client = client_for(connection, hook)
    data = os.urandom(3 * 1024 + 5)
    result = upload(client, str(uuid.uuid4()), data, chunk_size=1024, concurrency=3)
    assert result.completed and result.chunk_count == 4
    names = hook.names()
    assert names.count("put_chunk") == 4
    assert names[0] == "begin_asset_upload" and names[-2:] == ["commit_asset", "get_memory_presence_icp"]
    assert all(e["exception"] is None for e in hook.events)


def _begin(client: ArtifactClient) -> Any:
    data = os.urandom(8)
    return client.begin_asset_upload(str(uuid.uuid4()), hashlib.sha256(data).hexdigest(), 1, len(data))


def test_rate_limit_refusals_are_failures_unless_expected(connection: Connection) -> None:
    for expected in (False, True):
        hook = RecordingHook()
        client = client_for(connection, hook, expected_rate_limits=["begin_asset_upload"] if expected else [])
        sessions = [_begin(client).session.session_id for _ in range(3)]  # the contract's limit
        with pytest.raises(RateLimitedError) as refused:
            _begin(client)
        last = hook.events[-1]
        if expected:
            assert last["name"] == "begin_asset_upload:rate_limited" and last["exception"] is None
            assert not was_reported(refused.value)
        else:
            assert last["name"] == "begin_asset_upload" and last["exception"] is refused.value
            assert was_reported(refused.value), "tasks must not report it a second time"
        assert last["request_type"] == "update"
        for session_id in sessions:
            client.cancel_upload(session_id)


def test_other_failures_stay_failures_even_when_rate_limits_are_expected(
    connection: Connection,
) -> None:
    hook = RecordingHook()
    client = client_for(connection, hook, expected_rate_limits=["begin_asset_upload"])
    with pytest.raises(Exception) as failed:
        client.begin_asset_upload("not-a-uuid", "0" * 64, 1, 1)
    assert hook.events[-1]["name"] == "begin_asset_upload"
    assert hook.events[-1]["exception"] is failed.value


def test_clones_made_by_the_uploader_stay_instrumented(connection: Connection) -> None:
    hook = RecordingHook()
    client = client_for(connection, hook)
    clone = client.with_options(sleep=lambda _: None)
    assert clone is not client
    assert [type(o) for o in clone.options.observers] == [LocustObserver]
    clone.get_user_upload_sessions()
    assert hook.names() == ["get_user_upload_sessions"]
