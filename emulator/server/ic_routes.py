"""The IC HTTP interface routes: thin aiohttp adapters over `Replica`.

Handlers read the body (bounded), call the replica and copy its `HttpReply` out; `ProtocolError`s
become the replica's plain-text 4xx answers in one middleware. CORS is answered for every route so
agent-js works from a browser page as it does against the PocketIC gateway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.protocol.envelope import MAX_INGRESS_BYTES
from emulator.protocol.errors import ProtocolError
from emulator.server.app_keys import REPLICA
from emulator.server.connections import closes_connection, read_body
from emulator.server.replica import HttpReply

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _body(request: web.Request) -> bytes:
    """Every IC route reads its body here: the one place the 2 MiB ingress limit is checked.

    A body of a declared length within the limit that has arrived whole (it often comes in the
    headers' segment) is taken as it is: nothing is left to wait for, so `read_body`'s two timers
    (armed and cancelled on every request) have nothing to guard; `read_body` would return the same
    bytes.
    """
    content = request.content
    length = request.content_length
    if (
        length is not None
        and length <= MAX_INGRESS_BYTES
        and content.is_eof()
        and content.total_bytes <= MAX_INGRESS_BYTES
    ):
        return content.read_nowait()
    return await read_body(request, MAX_INGRESS_BYTES)


def _respond(reply: HttpReply, request: web.Request | None = None) -> web.Response:
    if reply.drop and request is not None and request.transport is not None:
        request.transport.close()  # the reply is lost on the way back: the client sees a broken connection
    return web.Response(status=reply.status, body=reply.body, content_type=reply.content_type)


async def status(request: web.Request) -> web.Response:
    return _respond(request.app[REPLICA].status())


async def query(request: web.Request) -> web.Response:
    body = await _body(request)
    return _respond(await request.app[REPLICA].query(body, request.match_info["ecid"]))


async def call_v2(request: web.Request) -> web.Response:
    body = await _body(request)
    return _respond(
        await request.app[REPLICA].call(body, request.match_info["ecid"], synchronous=False), request
    )


async def call_sync(request: web.Request) -> web.Response:
    body = await _body(request)
    return _respond(
        await request.app[REPLICA].call(body, request.match_info["ecid"], synchronous=True), request
    )


async def read_state(request: web.Request) -> web.Response:
    body = await _body(request)
    return _respond(await request.app[REPLICA].read_state(body, request.match_info["ecid"]))


async def read_state_subnet(request: web.Request) -> web.Response:
    body = await _body(request)
    return _respond(await request.app[REPLICA].read_state_subnet(body, request.match_info["sid"]))


async def preflight(request: web.Request) -> web.Response:
    return web.Response(status=204)


@web.middleware
async def protocol_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Envelope problems become 4xx answers with the replica's text.

    A refusal sent before the body was read (408, 413, 415) also closes the connection, so the rest of
    a hostile body is never drained. Other exceptions are not handled here: aiohttp logs them and
    answers 500 (none is expected: a full disk is an IC reject, see `Replica`).
    """
    try:
        return await handler(request)
    except ProtocolError as exc:
        response = web.Response(status=exc.http_status, text=exc.message, content_type="text/plain")
        if closes_connection(exc.http_status):
            response.force_close()
        return response


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
    response.headers["Access-Control-Allow-Methods"] = "OPTIONS, GET, POST"
    response.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", "Content-Type"
    )
    response.headers["Access-Control-Max-Age"] = "600"
    if "Origin" in request.headers:
        response.headers["Vary"] = "Origin"
    return response


async def not_supported(request: web.Request) -> web.Response:
    return web.Response(status=404, text="Not Found", content_type="text/plain")


def add_routes(app: web.Application, *, sync_call: bool = True) -> None:
    app.router.add_get("/api/v2/status", status)
    for version in ("v2", "v3"):
        app.router.add_post(f"/api/{version}/canister/{{ecid}}/query", query)
        app.router.add_post(f"/api/{version}/canister/{{ecid}}/read_state", read_state)
        app.router.add_post(f"/api/{version}/subnet/{{sid}}/read_state", read_state_subnet)
    app.router.add_post("/api/v2/canister/{ecid}/call", call_v2)
    app.router.add_post("/api/v3/canister/{ecid}/call", call_sync if sync_call else not_supported)
    app.router.add_post("/api/v4/canister/{ecid}/call", call_sync if sync_call else not_supported)
    app.router.add_route("OPTIONS", "/{tail:.*}", preflight)
