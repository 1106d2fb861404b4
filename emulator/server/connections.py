"""How long a client may hold a connection or dribble a body, and which bodies are read at all.

Both listeners face code the developer does not control (a fuzzer, a page in their browser, a load
test gone wrong), so a socket must never be held open for free:

- an idle connection, or one whose request line and headers arrive too slowly (slowloris), is closed
  after `idle_timeout_s` — aiohttp's keep-alive timer covers both, since a request only counts as
  started once its headers are complete;
- a body that stops arriving for `body_idle_timeout_s`, or is not complete after `body_timeout_s`, is
  answered 408 and the connection closed; the defaults let a 1 MiB chunk arrive at ~10 KB/s;
- bodies are never inflated: agents send identity-encoded CBOR, and aiohttp's automatic
  decompression would inflate a gzip bomb on the event loop while the refusal is being sent. With it
  off, a `Content-Encoding` other than identity is refused with 415 before a byte is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.protocol.errors import ProtocolError
from emulator.server.app_keys import CONNECTION_LIMITS
from emulator.server.config import ConnectionLimits

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def refuse_encoded_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No agent compresses ingress; an encoded body is refused before it is read (never inflated)."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ProtocolError(
            415,
            f"Unsupported Content-Encoding {encoding[:40]!r}: send the CBOR body unencoded (identity).",
        )
    return await handler(request)


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The whole body, at most `max_bytes`, arriving steadily enough; else a 413 or 408 refusal.

    Blocks are collected and joined once (appending to a bytearray copied a 1 MiB chunk twice more).
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise ProtocolError(
            413,
            f"Request body is too large: {request.content_length} bytes exceed the {max_bytes} byte limit.",
        )
    limits = request.app.get(CONNECTION_LIMITS) or ConnectionLimits()
    blocks: list[bytes] = []
    size = 0
    whole = asyncio.timeout(limits.body_timeout_s)
    try:
        async with whole:
            while True:
                async with asyncio.timeout(limits.body_idle_timeout_s):
                    block = await request.content.readany()  # read() alone may return a partial body
                if not block:
                    break
                size += len(block)
                if size > max_bytes:
                    raise ProtocolError(
                        413, f"Request body is too large: more than {max_bytes} bytes exceed the limit."
                    )
                blocks.append(block)
    except TimeoutError as exc:
        if whole.expired():
            reason = f"the body was not complete after {limits.body_timeout_s:g} s"
        else:
            reason = f"no body bytes arrived for {limits.body_idle_timeout_s:g} s"
        raise ProtocolError(408, f"Request timeout: {reason} ({size} bytes received).") from exc
    return blocks[0] if len(blocks) == 1 else b"".join(blocks)


def closes_connection(status: int) -> bool:
    """Refusals sent before the body was read: keeping the connection would mean draining it."""
    return status in (408, 413, 415)
