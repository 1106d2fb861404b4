"""Deliberately wrong artifact canisters: each breaks exactly one contract rule.

The conformance suite is only worth something if it fails against a canister that gets a rule
wrong. These variants are the evidence: `test_sensitivity.py` hosts each one in an emulator
(`--canister tests.conformance_meta.faulty_canisters:Name=<id>`, through the suite's
`--emulator-canister`) and requires named conformance tests to fail. They live here, in the tests,
never as options of the shipped canister. Each overrides one behaviour of the real
`ArtifactCanister` and leaves everything else to it, so a failure can only come from that one fault.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from typing import Any, ClassVar
from unittest import mock

from emulator.canisters.artifact import ids, metadata, uploads
from emulator.canisters.artifact.canister import ArtifactCanister
from emulator.canisters.artifact.errors import Refused, fail, internal, ok, run
from emulator.canisters.artifact.records import ICPResult
from emulator.principal import Principal
from emulator.runtime.canister import CallContext, query, update

__all__ = [
    "CommitNotIdempotent",
    "ForeignSessionWritable",
    "KeepsOnlyPresence",
    "NoHashVerification",
    "NoRateLimit",
    "PaddedSessionIds",
    "PresenceBySubstring",
    "SessionIdsFromArguments",
    "StateLostOnUpgrade",
    "WithoutProgressApi",
]


class NoHashVerification(ArtifactCanister):
    """Commit trusts the declared hash: the assembled bytes are never hashed (breaks 18.1/18.3/18.4)."""

    @update
    def commit_asset(self, ctx: CallContext, session_id: str, final_hash: str) -> ICPResult[Any]:
        real = uploads.stored_digest

        def trusting(db: Any, session: Any, hashes: Any) -> tuple[str, int]:
            return session.expected_hash, real(db, session, hashes)[1]

        with mock.patch.object(uploads, "stored_digest", trusting):
            return super().commit_asset(ctx, session_id, final_hash)


class NoRateLimit(ArtifactCanister):
    """The concurrent-session limit is never reached (breaks 20.1/22.2)."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.limits = dataclasses.replace(self.limits, max_active_sessions=1_000_000)


class PresenceBySubstring(ArtifactCanister):
    """Presence answers for any stored memory whose id contains the query, unvalidated (breaks 25,
    18.2): the kind of lookup that makes a fragment of an id look "present"."""

    @staticmethod
    def _by_substring(ctx: CallContext, fragment: str) -> tuple[bool, bool]:
        rows = ctx.db.execute(
            "SELECT memory_id FROM af_memories WHERE owner = ? AND instr(memory_id, ?) > 0",
            (ctx.caller.raw, fragment),
        ).fetchall()
        meta = asset = False
        for (memory_id,) in rows:
            m, a = metadata.presence(ctx.db, ctx.caller, memory_id)
            meta, asset = meta or m, asset or a
        return meta, asset

    @query
    def get_memory_presence_icp(self, ctx: CallContext, memory_id: str) -> ICPResult[Any]:
        meta, asset = self._by_substring(ctx, memory_id)
        return ok({"success": True, "metadata_present": meta, "asset_present": asset, "error": None})

    @query
    def get_memory_list_presence_icp(
        self, ctx: CallContext, memory_ids: list[str], cursor: str | None, limit: int
    ) -> ICPResult[Any]:
        try:
            start = 0 if cursor is None else metadata.decode_cursor(cursor, memory_ids)
        except Refused as refusal:
            return fail(refusal.code)
        end = min(start + metadata.page_size(self.limits, limit), len(memory_ids))
        results = []
        for memory_id in memory_ids[start:end]:
            meta, asset = self._by_substring(ctx, memory_id)
            results.append({"memory_id": memory_id, "metadata_present": meta, "asset_present": asset})
        has_more = end < len(memory_ids)
        next_cursor = metadata.encode_cursor(end, memory_ids) if has_more else None
        return ok(
            {"success": True, "results": results, "cursor": next_cursor, "has_more": has_more, "error": None}
        )


class CommitNotIdempotent(ArtifactCanister):
    """A commit retry after success is an error, as if the session were gone (breaks 1.7/6/18.5)."""

    @update
    def commit_asset(self, ctx: CallContext, session_id: str, final_hash: str) -> ICPResult[Any]:
        session = uploads.load_session(ctx.db, session_id)
        if (
            session is not None
            and session.owner == ctx.caller.raw
            and session.status is uploads.Status.COMPLETED
        ):
            return run(lambda: _refuse("Session already committed"))
        return super().commit_asset(ctx, session_id, final_hash)


def _refuse(message: str) -> ICPResult[Any]:
    raise Refused(internal(message))


class StateLostOnUpgrade(ArtifactCanister):
    """`post_upgrade` starts from empty tables, as a canister keeping state on the heap would
    (breaks 23)."""

    KEEP: ClassVar[frozenset[str]] = frozenset({"af_meta", "af_counters"})

    def post_upgrade(self, ctx: CallContext) -> None:
        tables = [
            name
            for (name,) in ctx.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'af_%'"
            )
            if name not in self.KEEP
        ]
        # Children before parents: retry until every table is empty (foreign keys decide the order).
        for _ in range(len(tables) + 1):
            left = []
            for name in tables:
                try:
                    ctx.db.execute(f"DELETE FROM {name}")
                except Exception:
                    left.append(name)
            tables = left
            if not tables:
                break
        super().post_upgrade(ctx)


class ForeignSessionWritable(ArtifactCanister):
    """`put_chunk` into another principal's session is accepted as if the owner sent it (breaks 17.1)."""

    @update
    def put_chunk(
        self, ctx: CallContext, session_id: str, chunk_index: int, chunk_data: bytes
    ) -> ICPResult[Any]:
        session = uploads.load_session(ctx.db, session_id)
        if session is not None and not ctx.caller.is_anonymous and session.owner != ctx.caller.raw:
            ctx = dataclasses.replace(ctx, caller=Principal(session.owner))
        return super().put_chunk(ctx, session_id, chunk_index, chunk_data)


def _without_methods(candid: str, names: tuple[str, ...]) -> str:
    return "\n".join(
        line for line in candid.splitlines() if not any(line.strip().startswith(f"{n} :") for n in names)
    )


class WithoutProgressApi(ArtifactCanister):
    """Not faulty: the deployed canister's interface, which lacks the seed 1.6 progress methods.
    The suite must report those tests as "not implemented by target", not fail them."""

    CANDID: ClassVar[str] = _without_methods(
        ArtifactCanister.CANDID, ("get_upload_progress", "get_user_upload_sessions")
    )
    get_upload_progress = None  # type: ignore[assignment]
    get_user_upload_sessions = None  # type: ignore[assignment]


class KeepsOnlyPresence(ArtifactCanister):
    """Verifies the hash while committing, then keeps only a presence record: the chunk bytes are
    overwritten with zeros (breaks "stored forever"; every reply still looks right)."""

    @update
    def commit_asset(self, ctx: CallContext, session_id: str, final_hash: str) -> ICPResult[Any]:
        result = super().commit_asset(ctx, session_id, final_hash)
        if result["success"]:
            ctx.db.execute(
                "UPDATE af_chunks SET data = zeroblob(length(data)) "
                "WHERE sid = (SELECT sid FROM af_sessions WHERE session_id = ?)",
                (session_id,),
            )
        return result


class PaddedSessionIds(ArtifactCanister):
    """Session ids of 40 hex characters whose last 12 are always zero: 112 random bits that look
    like 160 by length (breaks 17.1)."""

    @update
    def begin_asset_upload(
        self, ctx: CallContext, memory_id: str, expected_hash: str, chunk_count: int, total_size: int
    ) -> ICPResult[Any]:
        padded = lambda: secrets.token_hex(14) + "0" * 12  # noqa: E731
        with mock.patch.object(ids, "new_session_id", padded):
            return super().begin_asset_upload(ctx, memory_id, expected_hash, chunk_count, total_size)


class SessionIdsFromArguments(ArtifactCanister):
    """Session ids derived from caller, memory and hash: unique across different uploads, repeated for
    identical arguments (breaks 17.1)."""

    @update
    def begin_asset_upload(
        self, ctx: CallContext, memory_id: str, expected_hash: str, chunk_count: int, total_size: int
    ) -> ICPResult[Any]:
        derived = hashlib.sha256(ctx.caller.raw + memory_id.encode() + expected_hash.encode()).hexdigest()[
            :40
        ]

        with mock.patch.object(uploads, "_unused_session_id", lambda db: derived):
            return super().begin_asset_upload(ctx, memory_id, expected_hash, chunk_count, total_size)
