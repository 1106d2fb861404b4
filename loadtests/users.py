"""Locust users: one abstract ``ArtifactUser`` owning the client, four concrete users holding only tasks.

Every user is its own principal (a fresh Ed25519 identity), as every person of the gallery app is:
the canister's per-caller limits (3 active sessions, the daily quota) are per principal, so sharing
one identity between users would test a load pattern that never happens and trip limits that real
users never share.

Outcome conventions (also in docs/loadtests.md):

* canister calls: one event each, fired by the client's ``LocustObserver`` (``query``/``update``);
* ``gallery:store_<N>`` (type ``gallery``): one whole gallery through the client's orchestrator
  (``clients.artifact.orchestrator.store_gallery``: a presence pass in pages of 100, then per memory
  metadata, asset and presence, then ``store_gallery_forever``) plus a final presence check of every
  memory in pages of 100; ``upload:multi_chunk`` (type ``asset``): one big asset, begin to verified;
* ``invariant:max_active_sessions`` (type ``invariant``): one event per prober check, a failure when a
  principal held more active sessions than the limit (and the run's invariant flag is set);
* ``check:<what>`` (type ``check``): fired only when a reply is wrong though the call succeeded
  (presence that does not match what was stored, progress of the wrong session...).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import gevent
from locust import User, task
from locust.env import Environment
from locust.exception import RescheduleTask

from clients.artifact.errors import RateLimitedError
from clients.artifact.orchestrator import store_gallery
from clients.artifact.types import (
    MemoryPresence,
    MemoryType,
    SimpleMemoryMetadata,
    UploadSession,
    UploadStatus,
)
from clients.artifact.uploader import upload
from clients.ic import generate_ed25519

from .client import locust_client, mark_reported, was_reported
from .context import LoadContext, context_for
from .edges import edge_target_for
from .events import fire_request
from .fixtures import gallery_manifest, new_uuid, scratch_directory
from .profile import UserSettings
from .sizes import SizeDistribution, SyntheticAsset

__all__ = [
    "ArtifactUser",
    "BigUploader",
    "CheckFailed",
    "GalleryStorer",
    "PresenceReader",
    "RateLimitProber",
    "canister_task",
]

F = TypeVar("F", bound=Callable[..., None])
_user_numbers = itertools.count()


class CheckFailed(AssertionError):
    """A reply was well-formed but wrong; already reported as a ``check:`` failure event."""


def canister_task(weight: int = 1) -> Callable[[F], F]:
    """``@task`` whose already-reported failures end the task quietly.

    Why: a failed call has been counted as a failure event with its error; letting the exception
    escape would make Locust count it again as a task error and print a traceback per occurrence,
    which buries a real crash (an exception nobody reported) among hundreds of copies of one refusal.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def run(user: Any) -> None:
            try:
                fn(user)
            except Exception as exc:
                if was_reported(exc):
                    raise RescheduleTask() from exc
                raise

        return task(weight)(run)  # type: ignore[return-value]

    return decorate


@dataclass
class Measurement:
    """Filled in by the code inside ``ArtifactUser.measure`` (the bytes the operation moved)."""

    length: int = 0


class ArtifactUser(User):
    """One principal driving the artifact client; subclasses only declare tasks.

    Per-class settings (fixed count, wait range, options) come from the profile section named after
    the class, so changing the mix never means editing code.
    """

    abstract = True
    expected_rate_limits: ClassVar[tuple[str, ...]] = ()

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.ctx: LoadContext = context_for(environment)  # raises LocustError naming what is missing
        profile = self.ctx.profile
        self.identity = generate_ed25519()
        connection, self.http = self.ctx.connection_for(self.identity)
        self.client = locust_client(
            connection,
            self.ctx.canister_id,
            environment.events.request,
            retries=profile.client_retries,
            expected_rate_limits=self.expected_rate_limits,
            did_text=self.ctx.did_text,
        )
        self.principal = self.client.principal
        self.rng = random.Random(f"{profile.seed}:{type(self).__name__}:{next(_user_numbers)}")

    def on_stop(self) -> None:
        """Subclasses that override this call it last: the user's HTTP pool closes with it."""
        self.http.close()

    @property
    def settings(self) -> UserSettings:
        return self.ctx.profile.users()[type(self).__name__]

    def wait_time(self) -> float:
        low, high = self.settings.wait
        return self.rng.uniform(low, high)

    # ------------------------------------------------------------------ reporting helpers

    def fire(
        self, request_type: str, name: str, elapsed_ms: float, length: int, exc: BaseException | None
    ) -> None:
        fire_request(
            self.environment.events.request,
            request_type=request_type,
            name=name,
            response_time=elapsed_ms,
            response_length=length,
            exception=exc,
            context={"principal": self.principal},
        )

    @contextmanager
    def measure(self, request_type: str, name: str) -> Iterator[Measurement]:
        """One event for a whole multi-call operation (a gallery, a big asset): time and outcome."""
        m = Measurement()
        started = time.perf_counter()
        try:
            yield m
        except Exception as exc:
            self.fire(request_type, name, (time.perf_counter() - started) * 1000.0, m.length, exc)
            mark_reported(exc)
            raise
        self.fire(request_type, name, (time.perf_counter() - started) * 1000.0, m.length, None)

    def check(self, name: str, ok: bool, detail: str) -> None:
        """Fail loudly when a successful reply says the wrong thing; silent when it is right."""
        if ok:
            return
        error = CheckFailed(f"{name}: {detail}")
        self.fire("check", f"check:{name}", 0.0, 0, error)
        mark_reported(error)
        raise error

    # ------------------------------------------------------------------ client helpers

    @staticmethod
    def new_id() -> str:
        return new_uuid()

    def metadata(self, title: str, size: int, content_type: str) -> SimpleMemoryMetadata:
        now = time.time_ns()
        return SimpleMemoryMetadata(
            title=title,
            description="written by the storeforever load test",
            tags=("loadtest",),
            created_at=now,
            updated_at=now,
            size=size,
            content_type=content_type,
            custom_fields=(("source", "loadtests"),),
        )

    def store_memory(self, memory_id: str, sizes: SizeDistribution, title: str) -> int:
        """Metadata, then the asset through the client's uploader (hash, begin, chunk, commit, verify)."""
        size = sizes.sample(self.rng)
        self.client.upsert_metadata(memory_id, MemoryType.IMAGE, self.metadata(title, size, "image/jpeg"))
        result = upload(
            self.client,
            memory_id,
            self.rng.randbytes(size),
            chunk_size=self.ctx.profile.target.max_chunk_size,
            concurrency=1,
        )
        self.check("asset_stored", result.completed and result.presence_verified, f"{memory_id}: {result}")
        return size

    def presence(self, memory_ids: Sequence[str], page_size: int) -> list[MemoryPresence]:
        """Presence of every id via ``get_memory_list_presence_icp``, following the cursor page by page."""
        results: list[MemoryPresence] = []
        cursor: str | None = None
        for _ in range(len(memory_ids) // max(page_size, 1) + 2):
            page = self.client.get_memory_list_presence_icp(memory_ids, cursor, page_size)
            self.check(
                "presence_page_size", len(page.results) <= page_size, f"{len(page.results)} > {page_size}"
            )
            results.extend(page.results)
            if not page.has_more:
                break
            self.check("presence_cursor", page.cursor is not None, "has_more without a cursor")
            cursor = page.cursor
        got = [p.memory_id for p in results]
        self.check("presence_order", got == list(memory_ids), f"{len(got)} results for {len(memory_ids)} ids")
        return results

    def active_sessions(self) -> list[str]:
        return [
            s.session_id for s in self.client.get_user_upload_sessions() if s.status is UploadStatus.ACTIVE
        ]


# ------------------------------------------------------------------------------------------- users


class GalleryStorer(ArtifactUser):
    """Stores whole galleries with the client's orchestrator, then re-checks presence page by page.

    With ``write_edges`` it also keeps the app's ``storage_edges`` rows, as ``store-gallery
    --database-url`` does (``loadtests/edges.py``).
    """

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.edges = edge_target_for(environment) if self.ctx.profile.gallery.write_edges else None
        if self.edges is not None:
            self.edges.register(self.principal, self.identity)

    @canister_task()
    def store_gallery(self) -> None:
        s = self.ctx.profile.gallery
        with scratch_directory() as scratch:
            manifest = gallery_manifest(Path(scratch), self.rng, s.gallery_size, s.asset_size)
            memory_ids = [m.id for m in manifest.memories]
            writer = None
            if self.edges is not None:
                self.edges.seed(manifest, self.principal)
                writer = self.edges.writer(manifest, self.ctx.canister_id)
            with self.measure("gallery", self.ctx.profile.gallery_event) as m:
                try:
                    outcome = store_gallery(
                        self.client,
                        manifest,
                        memory_concurrency=s.memory_concurrency,
                        chunk_concurrency=1,
                        chunk_size=self.ctx.profile.target.max_chunk_size,
                        on_start=None if writer is None else writer.on_start,
                        on_memory=None if writer is None else writer.on_memory,
                    )
                except BaseException:
                    if writer is not None:  # stopped mid-gallery: unfinished memories go "failed"
                        writer.close(interrupted=True)
                    raise
                stats = None if writer is None else writer.close()
                if stats is not None:
                    self.check("edges_written", stats.error is None, f"storage_edges: {stats.error}")
                error = next((o.error for o in outcome.memories if o.error), outcome.error)
                self.check("gallery_complete", outcome.status == "complete", f"{outcome.counts}: {error}")
                absent = [p for p in self.presence(memory_ids, s.presence_page_size) if not p.fully_present]
                self.check("gallery_present", not absent, f"{len(absent)} of {len(memory_ids)} not present")
                m.length = sum(o.upload.size for o in outcome.memories if o.upload is not None)


class BigUploader(ArtifactUser):
    """Multi-chunk assets up to the profile's maximum, chunks sent concurrently by the client's uploader."""

    @canister_task()
    def upload_big_asset(self) -> None:
        s = self.ctx.profile.big
        size = s.asset_size.sample(self.rng)
        memory_id = self.new_id()
        with self.measure("asset", "upload:multi_chunk") as m:
            self.client.upsert_metadata(
                memory_id, MemoryType.VIDEO, self.metadata("big asset", size, "video/mp4")
            )
            result = upload(
                self.client,
                memory_id,
                SyntheticAsset.open(size, self.rng),
                chunk_size=self.ctx.profile.target.max_chunk_size,
                concurrency=s.chunk_concurrency,
            )
            self.check(
                "big_asset_stored",
                result.completed and result.presence_verified and result.chunk_count > 1,
                f"{memory_id}: {result}",
            )
            m.length = size


class RateLimitProber(ArtifactUser):
    """Opens more sessions at once than the per-caller limit and checks no principal ever exceeds it."""

    expected_rate_limits = ("begin_asset_upload",)

    def on_start(self) -> None:
        self.held: set[str] = set()

    def on_stop(self) -> None:
        for session_id in list(self.held):  # interrupted mid-burst: give the slots back
            with contextlib.suppress(Exception):  # a failure is already reported; stopping anyway
                self.client.cancel_upload(session_id)
            self.held.discard(session_id)
        super().on_stop()

    @canister_task()
    def burst(self) -> None:
        limit = self.ctx.profile.target.max_active_sessions
        burst = self.ctx.profile.prober.burst
        before = self.active_sessions()
        self.check("prober_starts_clean", not before, f"{len(before)} sessions still active before the burst")
        payloads = [(self.new_id(), self.rng.randbytes(16)) for _ in range(burst)]
        jobs = [gevent.spawn(self._begin, mid, data) for mid, data in payloads]  # all at once
        gevent.joinall(jobs)
        outcomes: list[tuple[UploadSession | None, Exception | None]] = [g.value for g in jobs]
        opened = [
            (session, data)
            for (session, _), (_, data) in zip(outcomes, payloads, strict=True)
            if session is not None
        ]
        try:
            failed = [exc for _, exc in outcomes if exc is not None]
            if failed:
                raise failed[0]
            active = self.active_sessions()
            self._judge(limit, burst, len(opened), len(active))
        finally:
            self._finish(opened)

    def _begin(self, memory_id: str, data: bytes) -> tuple[UploadSession | None, Exception | None]:
        """One begin: (session, None), (None, None) when refused for the limit, or (None, error).

        Errors are returned rather than raised so gevent does not print each as a dead greenlet.
        """
        digest = hashlib.sha256(data).hexdigest()
        try:
            reply = self.client.begin_asset_upload(memory_id, digest, 1, len(data))
        except RateLimitedError as exc:
            if exc.code == "Internal":
                return None, None  # the expected refusal; counted as begin_asset_upload:rate_limited
            return None, exc
        except Exception as exc:
            return None, exc
        if reply.session is not None:
            self.held.add(reply.session.session_id)
        return reply.session, None

    def _judge(self, limit: int, burst: int, opened: int, active: int) -> None:
        self.ctx.invariant.checks += 1
        broken = opened > limit or active > limit
        detail = (
            f"principal {self.principal}: {opened} begins accepted, {active} listed active, limit {limit}"
        )
        if broken:
            self.ctx.report_invariant_break(detail)
        self.fire(
            "invariant",
            "invariant:max_active_sessions",
            0.0,
            active,
            AssertionError(detail) if broken else None,
        )
        self.check("rate_limit_admits_up_to_limit", opened == min(burst, limit), detail)
        self.check("sessions_listed", active == opened, detail)

    def _finish(self, opened: list[tuple[UploadSession, bytes]]) -> None:
        """Complete one session (a slot freed by commit) and cancel the others (freed by cancel)."""
        for i, (session, data) in enumerate(opened):
            if i == 0:
                self.client.put_chunk(session.session_id, 0, data)
                self.client.commit_asset(session.session_id, session.expected_hash)
            else:
                self.client.cancel_upload(session.session_id)
            self.held.discard(session.session_id)


class PresenceReader(ArtifactUser):
    """Query-heavy traffic: presence pages, single presence, upload progress and the session list."""

    def on_start(self) -> None:
        s = self.ctx.profile.reader
        self.stored = [self.new_id() for _ in range(s.seed_memories)]
        self.with_asset = set(self.stored[: s.seed_assets])
        for mid in self.stored:
            if mid in self.with_asset:
                self.store_memory(mid, s.asset_size, "presence seed")
            else:
                self.client.upsert_metadata(
                    mid, MemoryType.NOTE, self.metadata("presence seed", 0, "text/plain")
                )
        self.never_written = [self.new_id() for _ in range(max(1, s.seed_memories // 20))]
        self.ids = self.stored + self.never_written
        self.rng.shuffle(self.ids)
        # One upload left half done (1 of 2 chunks), so progress queries have a live session to read.
        self.partial_id = self.new_id()
        partial = upload(
            self.client,
            self.partial_id,
            self.rng.randbytes(2048),
            chunk_size=1024,
            concurrency=1,
            stop_after_chunks=1,
        )
        if partial.session_id is None:
            raise CheckFailed("the half-done upload has no session")
        self.session_id = partial.session_id

    def on_stop(self) -> None:
        with contextlib.suppress(Exception):  # a failure is already reported; stopping anyway
            self.client.cancel_upload(self.session_id)
        super().on_stop()

    def _expect(self, p: MemoryPresence) -> None:
        want = (p.memory_id in self.with_asset or p.memory_id in self.stored, p.memory_id in self.with_asset)
        got = (p.metadata_present, p.asset_present)
        self.check("presence_matches", got == want, f"{p.memory_id}: got {got}, stored {want}")

    @canister_task(4)
    def presence_pages(self) -> None:
        for p in self.presence(self.ids, self.ctx.profile.target.presence_page_size):
            self._expect(p)

    @canister_task(3)
    def presence_single(self) -> None:
        self._expect(self.client.get_memory_presence_icp(self.rng.choice(self.ids)))

    @canister_task(2)
    def upload_progress(self) -> None:
        p = self.client.get_upload_progress(self.session_id)
        ok = p.status is UploadStatus.ACTIVE and (p.chunks_received, p.total_chunks) == (1, 2)
        self.check("progress_matches", ok, f"{p.status} {p.chunks_received}/{p.total_chunks}")

    @canister_task(1)
    def user_sessions(self) -> None:
        active = self.active_sessions()
        self.check("session_listed", active == [self.session_id], f"active sessions {active}")
