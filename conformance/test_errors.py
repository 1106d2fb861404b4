"""§2.1, seed task 1.1 (requirement 22.1): every artifact method answers the `ICPResult` envelope,
`success/data/error` consistent with each other, and a refusal is a reply, never a trap.

These tests look at the envelope as decoded from the wire (`SuiteClient.last_raw`), before the
client turns it into a value or an exception."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clients.artifact.errors import ArtifactError
from clients.artifact.types import MemoryType

from .calls import SuiteClient
from .kit import begin, metadata, metadata_key, new_id, put_all, sha, upload

pytestmark = [pytest.mark.task("1.1"), pytest.mark.portable, pytest.mark.req("22.1")]


def _refusal(action: Callable[[], Any]) -> ArtifactError:
    __tracebackhide__ = True
    try:
        action()
    except ArtifactError as exc:
        return exc
    pytest.fail("expected a refusal, the call succeeded")


def _assert_failure_envelope(raw: Any, tag: str) -> None:
    __tracebackhide__ = True
    assert isinstance(raw, dict), f"reply is not an ICPResult record: {raw!r:.200}"
    assert raw["success"] is False, raw
    assert raw["data"] == [], f"a failure carries no data: {raw!r:.300}"
    assert len(raw["error"]) == 1, f"a failure carries exactly one error code: {raw!r:.300}"
    (code,) = raw["error"]
    assert list(code) == [tag], f"expected ICPErrorCode {tag}, got {code!r}"


@pytest.mark.req("17.3")
@pytest.mark.method("upsert_metadata")
def test_unauthorized_envelope(anon: SuiteClient) -> None:
    """An anonymous write answers `success = false`, no data, `error = opt Unauthorized`."""
    mid = new_id()
    exc = _refusal(lambda: anon.upsert_metadata(mid, MemoryType.NOTE, metadata(), metadata_key(mid)))
    _assert_failure_envelope(anon.last_raw, "Unauthorized")
    assert exc.reject_code is None
    assert anon.last_raw["error"][0]["Unauthorized"] is None


@pytest.mark.method("begin_asset_upload")
def test_internal_envelope_carries_text(alice: SuiteClient) -> None:
    """`Internal` carries its explanation as text."""
    _refusal(lambda: alice.begin_asset_upload("not-a-uuid", "ab" * 32, 1, 1))
    _assert_failure_envelope(alice.last_raw, "Internal")
    text = alice.last_raw["error"][0]["Internal"]
    assert isinstance(text, str) and text.startswith("Invalid UUID")


@pytest.mark.method("put_chunk")
def test_not_found_envelope(alice: SuiteClient) -> None:
    """An unknown session answers `error = opt NotFound`."""
    _refusal(lambda: alice.put_chunk("no-such-session", 0, b"x"))
    _assert_failure_envelope(alice.last_raw, "NotFound")


@pytest.mark.req("18.1")
@pytest.mark.method("begin_asset_upload")
def test_invalid_hash_envelope(alice: SuiteClient) -> None:
    """A malformed expected hash answers `error = opt InvalidHash`."""
    _refusal(lambda: alice.begin_asset_upload(new_id(), "not-a-hash", 1, 1))
    _assert_failure_envelope(alice.last_raw, "InvalidHash")


@pytest.mark.req("18.5")
@pytest.mark.method("begin_asset_upload", "put_chunk", "commit_asset")
def test_already_exists_envelope(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Beginning an upload of bytes already committed answers `error = opt AlreadyExists`."""
    mid, data = new_id(), blob(50)
    upload(alice, mid, data)
    _refusal(lambda: alice.begin_asset_upload(mid, sha(data), 1, len(data)))
    _assert_failure_envelope(alice.last_raw, "AlreadyExists")


def _assert_success_envelope(raw: Any, *, payload_status: bool = True) -> Any:
    __tracebackhide__ = True
    assert isinstance(raw, dict), f"reply is not an ICPResult record: {raw!r:.200}"
    assert raw["success"] is True, raw
    assert raw["error"] == [], f"a success carries no error: {raw!r:.300}"
    assert len(raw["data"]) == 1, f"a success carries data: {raw!r:.300}"
    payload = raw["data"][0]
    if payload_status:
        assert payload["success"] is True, payload
        assert payload["error"] == [], payload
    return payload


@pytest.mark.method(
    "upsert_metadata",
    "get_memory_presence_icp",
    "get_memory_list_presence_icp",
    "begin_asset_upload",
    "put_chunk",
    "commit_asset",
)
def test_success_envelopes(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """On success: `success = true`, `data = opt payload`, `error = null`, and the payload's own
    `success = true`, `error = null`."""
    mid, data = new_id(), blob(10)
    alice.upsert_metadata(mid, MemoryType.IMAGE, metadata(), metadata_key(mid))
    _assert_success_envelope(alice.last_raw)
    alice.get_memory_presence_icp(mid)
    _assert_success_envelope(alice.last_raw)
    alice.get_memory_list_presence_icp([mid], None, 0)
    _assert_success_envelope(alice.last_raw)
    staged = begin(alice, mid, data)
    _assert_success_envelope(alice.last_raw)
    put_all(alice, staged)
    _assert_success_envelope(alice.last_raw)
    alice.commit_asset(staged.session_id, sha(data))
    _assert_success_envelope(alice.last_raw)


@pytest.mark.method("begin_asset_upload", "cancel_upload")
def test_cancel_success_is_opt_null(alice: SuiteClient) -> None:
    """`cancel_upload` succeeds with `data = opt null`."""
    staged = begin(alice, new_id(), b"to be cancelled")
    alice.cancel_upload(staged.session_id)
    raw = alice.last_raw
    assert (raw["success"], raw["data"], raw["error"]) == (True, [None], [])


@pytest.mark.req("2.2")
@pytest.mark.task("1.6")
@pytest.mark.method("begin_asset_upload", "get_upload_progress", "get_user_upload_sessions")
def test_progress_envelopes(alice: SuiteClient) -> None:
    """The progress methods use the same envelope; their payloads have no status fields."""
    staged = begin(alice, new_id(), b"progress")
    alice.get_upload_progress(staged.session_id)
    _assert_success_envelope(alice.last_raw, payload_status=False)
    alice.get_user_upload_sessions()
    _assert_success_envelope(alice.last_raw, payload_status=False)
    _refusal(lambda: alice.get_upload_progress("no-such-session"))
    _assert_failure_envelope(alice.last_raw, "NotFound")
