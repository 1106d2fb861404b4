"""Chunked, resumable, verified asset upload (seed 3.2 and 3.4; requirements 18.1, 18.3, 20.1).

``upload(client, memory_id, source)`` does, in order:

1. **hash first**: SHA-256 of the whole source, streamed (a path is read in blocks, never whole);
2. **begin or resume**: ``begin_asset_upload`` with that hash. The contract's resume rule returns the
   caller's active session for the same memory, hash, chunk count and size, so a client that crashed
   sends only the chunks whose ``chunks_received`` flag is false. ``AlreadyExists`` means the same
   bytes are already committed: success without uploading (``UploadResult.already_present``);
3. **chunks** go out with bounded concurrency (a thread pool; each chunk is read from the source when
   its turn comes, so memory stays at ``concurrency × chunk_size``), each call retried by the client's
   policy (``put_chunk`` is idempotent);
4. **commit**, then **verify**: the returned ``final_hash`` must equal the local SHA-256 (not merely the
   declared one) and ``get_memory_presence_icp`` must report ``asset_present``; otherwise
   ``IntegrityError``. Nothing is reported as stored before both checks pass (18.1/18.3).

Failures: an interrupted upload (any exception, or Ctrl-C) cancels its session and re-raises, so no
slot of the caller's 3 concurrent sessions is left occupied (pass ``cancel_on_error=False`` to keep it
for a later resume). A session that expires mid-way, or a commit refused with ``InvalidHash`` while
the source still hashes the same (corruption in transit, requirement 18.4), is started over once with
a new session (``max_restarts``); a source that changed while uploading is an ``IntegrityError``.

Progress events come from real acknowledgements only: a chunk counts once its ``put_chunk`` succeeded;
the rate is measured over a sliding window of acknowledgements and the ETA divides what remains by it.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Literal

from .client import ArtifactClient
from .errors import (
    AlreadyExistsError,
    ArtifactError,
    IntegrityError,
    InvalidHashError,
    SessionExpiredError,
    TargetError,
)
from .retry import RetryPolicy
from .types import UploadSession

__all__ = [
    "HASH_BLOCK",
    "ChunkSource",
    "Phase",
    "ProgressEvent",
    "RateMeter",
    "UploadResult",
    "chunk_count_for",
    "open_source",
    "upload",
]

HASH_BLOCK = 1024 * 1024
Phase = Literal["hashing", "beginning", "uploading", "committing", "verifying", "done"]
Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


# ------------------------------------------------------------------------------------------ sources


class ChunkSource:
    """Random-access reads of an upload's bytes, safe from several threads at once."""

    size: int

    def read(self, offset: int, length: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``open_source`` opened (never a caller's own stream)."""

    def sha256(self, on_block: Callable[[int], None] | None = None) -> str:
        digest = hashlib.sha256()
        offset = 0
        while offset < self.size:
            block = self.read(offset, min(HASH_BLOCK, self.size - offset))
            if not block:
                raise IntegrityError(f"source ended at {offset} bytes, expected {self.size}", kind="source")
            digest.update(block)
            offset += len(block)
            if on_block is not None:
                on_block(offset)
        return digest.hexdigest()


class _BytesSource(ChunkSource):
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        self.size = len(self._view)

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self._view[offset : offset + length])


class _FileSource(ChunkSource):
    """A file read with ``os.pread`` (no shared file position, so no lock), or seek+read under a lock."""

    def __init__(self, fh: BinaryIO, *, owned: bool) -> None:
        self._fh = fh
        self._owned = owned
        self._lock = threading.Lock()
        try:
            self._fd: int | None = fh.fileno()
        except (OSError, io.UnsupportedOperation):
            self._fd = None
        if self._fd is not None:
            self.size = os.fstat(self._fd).st_size
        else:
            self.size = fh.seek(0, io.SEEK_END)

    def read(self, offset: int, length: int) -> bytes:
        if self._fd is not None and hasattr(os, "pread"):
            parts = []
            while length > 0:
                block = os.pread(self._fd, length, offset)
                if not block:
                    break
                parts.append(block)
                offset += len(block)
                length -= len(block)
            return b"".join(parts)
        with self._lock:
            self._fh.seek(offset)
            return self._fh.read(length)

    def close(self) -> None:
        if self._owned:
            self._fh.close()


def open_source(source: Source) -> ChunkSource:
    """A ``ChunkSource`` for a path, bytes, or a binary stream.

    A stream that cannot seek is first copied to an anonymous temporary file (hashing needs one pass
    and chunks need random access for retries and resume); nothing is ever held whole in memory.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _BytesSource(source)
    if isinstance(source, (str, os.PathLike)):
        return _FileSource(Path(source).open("rb"), owned=True)
    seekable = False
    try:
        seekable = source.seekable()
    except (AttributeError, OSError):
        seekable = False
    if seekable:
        return _FileSource(source, owned=False)
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the returned source
    while block := source.read(HASH_BLOCK):
        spool.write(block)
    spool.flush()
    return _FileSource(spool, owned=True)


def chunk_count_for(size: int, chunk_size: int) -> int:
    """Chunks needed for ``size`` bytes; an empty asset is one empty chunk (the contract needs >= 1)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    return max(1, math.ceil(size / chunk_size))


# ------------------------------------------------------------------------------------------ progress


class RateMeter:
    """Bytes per second over the last ``window_seconds`` of acknowledgements.

    Samples are ``(time, cumulative bytes acknowledged by this run)``; the rate is the slope between
    the oldest sample still in the window (keeping one just before it, so the window is spanned) and
    the newest. Before two samples exist, or over zero elapsed time, there is no rate (None), and
    without a rate there is no ETA: the meter never invents numbers.
    """

    def __init__(self, window_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_seconds = window_seconds
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    def start(self, at: float | None = None) -> None:
        self._samples.clear()
        self._samples.append((self._clock() if at is None else at, 0))

    def add(self, cumulative_bytes: int, at: float | None = None) -> None:
        now = self._clock() if at is None else at
        if not self._samples:
            self._samples.append((now, 0))
        self._samples.append((now, cumulative_bytes))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_seconds:
            self._samples.popleft()

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        if t1 <= t0:
            return None
        return (b1 - b0) / (t1 - t0)

    def eta(self, remaining_bytes: int) -> float | None:
        if remaining_bytes <= 0:
            return 0.0
        rate = self.rate()
        if rate is None or rate <= 0:
            return None
        return remaining_bytes / rate


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One observation of an upload; ``bytes_done`` includes chunks a resumed session already had."""

    memory_id: str
    phase: Phase
    chunks_done: int
    chunks_total: int
    bytes_done: int
    bytes_total: int
    rate: float | None = None
    eta_seconds: float | None = None
    elapsed: float = 0.0
    session_id: str | None = None
    resumed_chunks: int = 0

    @property
    def fraction(self) -> float:
        return 1.0 if self.bytes_total == 0 else self.bytes_done / self.bytes_total


@dataclass(frozen=True, slots=True)
class UploadResult:
    memory_id: str
    sha256: str
    size: int
    chunk_size: int
    chunk_count: int
    session_id: str | None
    chunks_sent: int
    chunks_resumed: int
    bytes_sent: int
    already_present: bool = False
    completed: bool = True
    final_hash: str | None = None
    total_bytes: int | None = None
    presence_verified: bool = False
    restarts: int = 0
    duration: float = 0.0
    messages: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class _Stopped(Exception):
    """Raised inside workers when the upload is being abandoned (never escapes ``upload``)."""


# ------------------------------------------------------------------------------------------- upload


def upload(
    client: ArtifactClient,
    memory_id: str,
    source: Source,
    *,
    chunk_size: int | None = None,
    concurrency: int = 4,
    retry_policy: RetryPolicy | None = None,
    progress: Callable[[ProgressEvent], None] | None = None,
    expected_hash: str | None = None,
    cancel_on_error: bool = True,
    stop_after_chunks: int | None = None,
    max_restarts: int = 1,
    clock: Callable[[], float] = time.monotonic,
) -> UploadResult:
    """Upload ``source`` as the asset of ``memory_id``; see the module docstring for the steps.

    ``expected_hash`` declares a hash other than the computed one (for testing a target's checks: the
    commit then fails with ``InvalidHashError`` and is not restarted). ``stop_after_chunks`` sends at
    most that many chunks and returns with ``completed=False``, leaving the session active for a later
    resume (operations and tests use it to stage interrupted uploads).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    size_chunk = chunk_size or client.limits.max_chunk_size
    started = clock()
    src = open_source(source)
    try:
        job = _Upload(client, memory_id, src, size_chunk, concurrency, retry_policy, progress, clock, started)
        local_hash = job.hash_source()
        declared = (expected_hash or local_hash).lower()
        restarts = 0
        while True:
            try:
                return job.run(local_hash, declared, cancel_on_error, stop_after_chunks, restarts)
            except SessionExpiredError:
                if restarts >= max_restarts:
                    raise
            except InvalidHashError as exc:
                if expected_hash is not None or restarts >= max_restarts or exc.method != "commit_asset":
                    raise
                if job.hash_source() != local_hash:
                    raise IntegrityError(
                        "the source changed while it was being uploaded", kind="source_changed"
                    ) from exc
            restarts += 1
    finally:
        src.close()


class _Upload:
    """State of one ``upload`` call (split out so the steps read top to bottom)."""

    def __init__(
        self,
        client: ArtifactClient,
        memory_id: str,
        src: ChunkSource,
        chunk_size: int,
        concurrency: int,
        retry_policy: RetryPolicy | None,
        progress: Callable[[ProgressEvent], None] | None,
        clock: Callable[[], float],
        started: float,
    ) -> None:
        self.client = client if retry_policy is None else client.with_options(retry_policy=retry_policy)
        self.memory_id = memory_id
        self.src = src
        self.chunk_size = chunk_size
        self.count = chunk_count_for(src.size, chunk_size)
        self.concurrency = concurrency
        self.progress = progress
        self.clock = clock
        self.started = started

    def emit(self, phase: Phase, chunks_done: int, bytes_done: int, **extra: object) -> None:
        if self.progress is not None:
            self.progress(
                ProgressEvent(
                    memory_id=self.memory_id,
                    phase=phase,
                    chunks_done=chunks_done,
                    chunks_total=self.count,
                    bytes_done=bytes_done,
                    bytes_total=self.src.size,
                    elapsed=self.clock() - self.started,
                    **extra,  # type: ignore[arg-type]
                )
            )

    def chunk_len(self, index: int) -> int:
        return max(0, min(self.chunk_size, self.src.size - index * self.chunk_size))

    def hash_source(self) -> str:
        self.emit("hashing", 0, 0)
        return self.src.sha256(lambda n: self.emit("hashing", 0, n))

    def run(
        self,
        local_hash: str,
        declared: str,
        cancel_on_error: bool,
        stop_after: int | None,
        restarts: int,
    ) -> UploadResult:
        self.emit("beginning", 0, 0)
        try:
            begun = self.client.begin_asset_upload(self.memory_id, declared, self.count, self.src.size)
        except AlreadyExistsError:
            return self.already_present(local_hash, declared, restarts)
        session = begun.session
        if session is None:
            raise TargetError("begin_asset_upload succeeded without a session", method="begin_asset_upload")
        self.check_session(session, declared)
        try:
            return self.transfer(session, local_hash, declared, stop_after, restarts)
        except BaseException as exc:
            if cancel_on_error:
                self.cancel_quietly(session.session_id, exc)
            raise

    def check_session(self, session: UploadSession, declared: str) -> None:
        expected = (self.memory_id, declared, self.count, self.src.size, self.count)
        got = (
            session.memory_id,
            session.expected_hash.lower(),
            session.chunk_count,
            session.total_size,
            len(session.chunks_received),
        )
        if got != expected:
            raise TargetError(
                f"the session returned does not match the request: {got} != {expected}",
                method="begin_asset_upload",
            )

    def already_present(self, local_hash: str, declared: str, restarts: int) -> UploadResult:
        """``AlreadyExists``: these bytes are committed; still verify presence before saying so."""
        self.emit("verifying", self.count, self.src.size)
        if not self.client.get_memory_presence_icp(self.memory_id).asset_present:
            raise IntegrityError("begin said AlreadyExists but presence does not report the asset")
        self.emit("done", self.count, self.src.size)
        return UploadResult(
            memory_id=self.memory_id,
            sha256=local_hash,
            size=self.src.size,
            chunk_size=self.chunk_size,
            chunk_count=self.count,
            session_id=None,
            chunks_sent=0,
            chunks_resumed=0,
            bytes_sent=0,
            already_present=True,
            final_hash=declared,
            total_bytes=self.src.size,
            presence_verified=True,
            restarts=restarts,
            duration=self.clock() - self.started,
            messages=("already committed with this SHA-256; nothing uploaded",),
        )

    def transfer(
        self, session: UploadSession, local_hash: str, declared: str, stop_after: int | None, restarts: int
    ) -> UploadResult:
        missing = list(session.missing_chunks)
        resumed = self.count - len(missing)
        resumed_bytes = self.src.size - sum(self.chunk_len(i) for i in missing)
        todo = missing if stop_after is None else missing[: max(0, stop_after)]
        sent, sent_bytes = self.send_chunks(session.session_id, todo, resumed, resumed_bytes)
        partial = UploadResult(
            memory_id=self.memory_id,
            sha256=local_hash,
            size=self.src.size,
            chunk_size=self.chunk_size,
            chunk_count=self.count,
            session_id=session.session_id,
            chunks_sent=sent,
            chunks_resumed=resumed,
            bytes_sent=sent_bytes,
            completed=False,
            restarts=restarts,
            duration=self.clock() - self.started,
        )
        if len(todo) < len(missing):
            return partial
        self.emit("committing", self.count, self.src.size, session_id=session.session_id)
        commit = self.client.commit_asset(session.session_id, declared)
        if commit.final_hash.lower() != local_hash:
            raise IntegrityError(
                f"committed hash {commit.final_hash} differs from the local SHA-256 {local_hash}",
                method="commit_asset",
            )
        if commit.total_bytes != self.src.size:
            raise IntegrityError(
                f"committed {commit.total_bytes} bytes, the source has {self.src.size}", method="commit_asset"
            )
        self.emit("verifying", self.count, self.src.size, session_id=session.session_id)
        if not self.client.get_memory_presence_icp(self.memory_id).asset_present:
            raise IntegrityError(
                "committed, but presence does not report the asset", method="get_memory_presence_icp"
            )
        self.emit("done", self.count, self.src.size, session_id=session.session_id)
        return replace(
            partial,
            completed=True,
            final_hash=commit.final_hash.lower(),
            total_bytes=commit.total_bytes,
            presence_verified=True,
            duration=self.clock() - self.started,
            messages=(commit.message,),
        )

    def send_chunks(
        self, session_id: str, todo: list[int], resumed: int, resumed_bytes: int
    ) -> tuple[int, int]:
        """Send ``todo`` with bounded concurrency; returns (chunks, bytes) acknowledged by this run."""
        meter = RateMeter(clock=self.clock)
        meter.start()
        done, done_bytes = 0, 0
        self.emit("uploading", resumed, resumed_bytes, session_id=session_id, resumed_chunks=resumed)
        if not todo:
            return 0, 0
        stop = threading.Event()

        def interruptible_sleep(seconds: float) -> None:
            if stop.wait(seconds):
                raise _Stopped()

        worker = self.client.with_options(sleep=interruptible_sleep)

        def send(index: int) -> tuple[int, int]:
            if stop.is_set():
                raise _Stopped()
            data = self.src.read(index * self.chunk_size, self.chunk_len(index))
            if len(data) != self.chunk_len(index):
                raise IntegrityError(
                    f"source is shorter than when it was hashed (chunk {index})", kind="source"
                )
            reply = worker.put_chunk(session_id, index, data)
            if reply.chunk_index != index:
                raise TargetError(f"put_chunk acknowledged chunk {reply.chunk_index}, sent {index}")
            return index, len(data)

        def acknowledged(n: int) -> None:
            nonlocal done, done_bytes
            done += 1
            done_bytes += n
            meter.add(done_bytes)
            remaining = self.src.size - resumed_bytes - done_bytes
            self.emit(
                "uploading",
                resumed + done,
                resumed_bytes + done_bytes,
                rate=meter.rate(),
                eta_seconds=meter.eta(remaining),
                session_id=session_id,
                resumed_chunks=resumed,
            )

        if len(todo) == 1:
            # One chunk (most photos of a gallery): sent from this thread; starting a pool for it cost
            # more GIL-held time than the chunk's own client work (docs/performance.md).
            acknowledged(send(todo[0])[1])
            return done, done_bytes
        pool = ThreadPoolExecutor(min(self.concurrency, len(todo)), thread_name_prefix="put_chunk")
        futures: list[Future[tuple[int, int]]] = []
        try:
            futures = [pool.submit(send, i) for i in todo]
            for fut in as_completed(futures):
                acknowledged(fut.result()[1])
        except BaseException as exc:
            stop.set()
            for fut in futures:
                fut.cancel()
            if isinstance(exc, _Stopped):  # pragma: no cover - only workers raise it, after stop
                raise ArtifactError("upload stopped") from exc
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return done, done_bytes

    def cancel_quietly(self, session_id: str, cause: BaseException) -> None:
        """Free the session's slot; the original failure stays what is raised."""
        # One short retry, and past the breaker: an open breaker usually means one method is failing
        # (put_chunk), and leaving the session would hold one of the caller's 3 slots for 30 minutes.
        quick = self.client.with_options(
            retry_policy=RetryPolicy(retries=1, base_delay=0.2, max_delay=0.5, jitter=0.1),
            sleep=time.sleep,
            breaker=None,
        )
        try:
            quick.cancel_upload(session_id)
            cause.add_note(f"upload session {session_id} cancelled")
        except Exception as exc:
            cause.add_note(f"cancelling upload session {session_id} failed too: {exc}")
