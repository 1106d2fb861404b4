"""Live upload progress for the inspector page, as server-sent events.

Why this shape: the emulator's IC endpoints must not pay for a page nobody looks at. The replica's
call hook (`EmulatorMetrics.listener`) is set only while at least one page subscribes, so with no
subscriber an update call costs one `is None` check. While someone watches, update calls only mark
the board dirty; one snapshot of the live sessions is read on the canister's thread at most
`min_interval` seconds apart and handed to every subscriber, which keeps only the newest (a slow
browser skips frames instead of queueing them). Subscribers are capped, so a page opened in many
tabs (or a hostile loop) cannot multiply the reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.server.metrics import EmulatorMetrics
from emulator.server.replica import CallRecord

MAX_SUBSCRIBERS = 16
MIN_INTERVAL_S = 0.25
KEEPALIVE_S = 15.0


class Subscriber:
    """One open event stream: the newest payload not yet sent, or None once the stream must end."""

    def __init__(self) -> None:
        self._payload: str | None = None
        self._closed = False
        self._ready = asyncio.Event()

    def offer(self, payload: str) -> None:
        self._payload = payload
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def next(self, timeout: float) -> str | None:
        """The newest payload; "" after `timeout` with nothing new; None when closed."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return ""
        self._ready.clear()
        if self._closed:
            return None
        payload, self._payload = self._payload, None
        return payload or ""


class TooManySubscribers(Exception):
    pass


class UploadBroadcaster:
    """Coalesces update calls into at most one board snapshot per `min_interval` for all subscribers."""

    def __init__(
        self,
        metrics: EmulatorMetrics,
        snapshot: Callable[[], Awaitable[str]],
        *,
        max_subscribers: int = MAX_SUBSCRIBERS,
        min_interval: float = MIN_INTERVAL_S,
    ) -> None:
        self._metrics = metrics
        self._snapshot = snapshot
        self._max = max_subscribers
        self._interval = min_interval
        self._subscribers: set[Subscriber] = set()
        self._scheduled = False
        self._last_flush = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        if len(self._subscribers) >= self._max:
            raise TooManySubscribers(f"at most {self._max} live inspector pages at once")
        sub = Subscriber()
        self._subscribers.add(sub)
        self._metrics.listener = self.notify
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)
        if not self._subscribers:
            self._metrics.listener = None

    def notify(self, record: CallRecord | None = None) -> None:
        """Called on the event loop for every message while subscribed; queries change nothing."""
        if not self._subscribers or self._scheduled or (record is not None and record.endpoint != "call"):
            return
        self._scheduled = True
        delay = max(0.0, self._last_flush + self._interval - time.monotonic())
        asyncio.get_running_loop().call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        try:
            self._last_flush = time.monotonic()
            # Cleared before the read, so a call landing during it schedules the next snapshot.
            self._scheduled = False
            if not self._subscribers:
                return
            payload = await self._snapshot()
            for sub in list(self._subscribers):
                sub.offer(payload)
        except Exception:  # a failed read (e.g. during a restore) skips one frame, never the stream
            self._scheduled = False

    async def close(self) -> None:
        for sub in list(self._subscribers):
            sub.close()
        self._metrics.listener = None
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def stream(request: web.Request, broadcaster: UploadBroadcaster) -> web.StreamResponse:
    """`text/event-stream` of `uploads` events: the current board first, then each coalesced change."""
    try:
        sub = broadcaster.subscribe()
    except TooManySubscribers as exc:
        return web.json_response({"error": str(exc)}, status=503, headers={"Retry-After": "5"})
    try:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            }
        )
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        broadcaster.notify()
        while True:
            payload = await sub.next(KEEPALIVE_S)
            if payload is None:
                break
            if payload == "":
                await response.write(b": keep-alive\n\n")
                continue
            await response.write(f"event: uploads\ndata: {payload}\n\n".encode())
    except ConnectionResetError:
        pass
    finally:
        broadcaster.unsubscribe(sub)
    return response
