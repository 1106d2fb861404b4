"""The suite's stored-bytes check: what it remembers of each upload, what it compares at commit, and
what the matrix says per target (verified, or explicitly not verifiable)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from conformance.report import RunResults, render_html, render_markdown
from conformance.stored_bytes import StoredBytes, StoredBytesMismatch

MEMORY = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@dataclass
class _Session:
    session_id: str


@dataclass
class _Begun:
    session: _Session


def _upload(check: StoredBytes, chunks: list[bytes], *, resend: dict[int, bytes] | None = None) -> None:
    check.observe(
        "begin_asset_upload", [MEMORY, "h", len(chunks), sum(map(len, chunks))], _Begun(_Session("s1"))
    )
    for index, chunk in enumerate(chunks):
        check.observe("put_chunk", ["s1", index, chunk], object())
    for index, chunk in (resend or {}).items():  # a retried chunk: the first accepted copy is kept
        check.observe("put_chunk", ["s1", index, chunk], object())
    check.observe("commit_asset", ["s1", "h"], object())


def test_matching_bytes_are_counted_as_verified_and_retries_are_not_rechecked() -> None:
    fetched: list[str] = []

    def fetch(memory_id: str) -> bytes:
        fetched.append(memory_id)
        return b"abcdef"

    check = StoredBytes(fetch, "test")
    _upload(check, [b"abc", b"def"], resend={1: b"XYZ"})
    check.observe("commit_asset", ["s1", "h"], object())  # a retried commit
    assert fetched == [MEMORY] and check.describe()["verified_commits"] == 1


def test_different_stored_bytes_fail_with_both_digests() -> None:
    check = StoredBytes(lambda mid: b"\0\0\0\0\0\0", "test")
    with pytest.raises(StoredBytesMismatch, match=r"stored 6 bytes with SHA-256 .* but 6 bytes"):
        _upload(check, [b"abc", b"def"])


def test_a_target_without_read_back_is_reported_as_not_verified() -> None:
    check = StoredBytes(None)
    _upload(check, [b"abc"])
    described = check.describe()
    assert described == {"verifiable": False, "how": "", "verified_commits": 0, "unchecked_commits": 1}
    run = RunResults(target={"name": "replica-x", "kind": "replica", "stored_bytes": described}, results=[])
    for text in (render_markdown([run]), render_html([run])):
        assert "stored bytes: NOT verified" in text and "1 committed uploads were not checked" in text
    verified = RunResults(
        target={"name": "emu", "stored_bytes": {"verifiable": True, "verified_commits": 3, "how": "admin"}},
        results=[],
    )
    assert "stored bytes: verified" in render_markdown([verified])
