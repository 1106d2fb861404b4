"""The inspector's pages on the admin listener: galleries, uploads, audit, controls, metrics.

Pages are rendered on the server (Jinja2, autoescaped: every principal, id, title and reason is
someone's input) from the artifact canister's inspection views, read on the canister's own thread
like any admin request. The page's script changes nothing through routes of its own: every control
calls the admin API route the CLI calls. The only route added here that answers a write is
`/inspector/session`, which turns a token typed into the page into the `sf_admin_token` cookie.

Token rules: the admin guard's middleware still applies Host, Origin and content-type rules to
every path here. The page paths are in the guard's `open_paths` only so that, without the token,
they can answer with the token form (401) instead of bare JSON; `page()` makes that check itself
with the guard's own `token_matches`, so no state is rendered without it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from emulator.runtime.host import CanisterHost
from emulator.server.admin_guard import (
    TOKEN_COOKIE,
    offered_token,
    token_matches,
)
from emulator.server.app_keys import (
    ADMIN_LISTENER,
    INSPECTOR_BROADCASTER,
    INSPECTOR_TEMPLATES,
    METRICS,
    REPLICA,
)
from emulator.server.faults import ACTIONS
from emulator.server.inspector import events, glance
from emulator.server.replica import Replica

PAGE_SIZE = 50
GALLERY_PAGE_SIZE = 100
MAX_TOKEN_LENGTH = 1024
INSPECTOR_VIEW = "gallery_summaries"
STATIC_FILES = {"inspector.js": "text/javascript", "inspector.css": "text/css"}
PAGES = {
    "/": "galleries",
    "/inspector/gallery": "gallery",
    "/inspector/uploads": "uploads",
    "/inspector/audit": "audit",
    "/inspector/controls": "controls",
    "/inspector/metrics": "metrics",
}
SECURITY_HEADERS = {
    # Scripts and styles only from this listener; no framing (clickjacking), no inline script.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

PageHandler = Callable[[web.Request, CanisterHost | None], Awaitable[dict[str, Any]]]


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


# -- formatting (template filters) ----------------------------------------------------------------


def ns_time(value: int | None) -> str:
    if value is None:
        return "—"
    return datetime.fromtimestamp(value / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def human_bytes(value: float | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def duration_ns(value: int | None) -> str:
    if value is None:
        return "—"
    seconds = value / 1e9
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def thousands(value: int) -> str:
    return f"{value:,}"


def badge_class(badge: str) -> str:
    return {
        "Stored forever": "stored",
        "Partially on ICP": "partial",
        "Storing…": "storing",
    }.get(badge, "none")


# -- helpers ---------------------------------------------------------------------------------------


def artifact_hosts(replica: Replica) -> list[CanisterHost]:
    """Hosted canisters whose code offers the inspector's views (the artifact canister)."""
    return [h for h in replica.hosts.values() if INSPECTOR_VIEW in h.instance.inspect_views()]


def _host_for(request: web.Request) -> CanisterHost | None:
    hosts = artifact_hosts(request.app[REPLICA])
    wanted = request.query.get("canister")
    if wanted is None:
        return hosts[0] if hosts else None
    for host in hosts:
        if str(host.canister_id) == wanted:
            return host
    raise PageError(404, f"no artifact canister {wanted!r} is hosted here")


async def _view(request: web.Request, host: CanisterHost, name: str, params: Mapping[str, str]) -> Any:
    now = host.clock.now()
    try:
        return await request.app[REPLICA].run_on(
            host.canister_id, lambda: host.inspect(name, {**params, "now": str(now)})
        )
    except ValueError as exc:
        raise PageError(400, str(exc)) from None


def _params(request: web.Request, *names: str) -> dict[str, str]:
    return {n: request.query[n] for n in names if request.query.get(n)}


def _link(path: str, **query: Any) -> str:
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def _authorised(request: web.Request) -> bool:
    listener = request.app[ADMIN_LISTENER]
    return listener.token is None or token_matches(listener.token, offered_token(request))


def _render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    listener = request.app[ADMIN_LISTENER]
    base = {
        "page": template.removesuffix(".html"),
        "host": None,
        "token_mode": listener.token is not None,
        "link": _link,
        "canister_param": request.query.get("canister"),
    }
    response = aiohttp_jinja2.render_template(
        template, request, {**base, **context}, status=status, app_key=INSPECTOR_TEMPLATES
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def page(template: str, handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page: the token form (401) without the token, else the template with the handler's context."""

    async def run(request: web.Request) -> web.StreamResponse:
        if not _authorised(request):
            return _render(request, "login.html", {"next": request.path_qs}, status=401)
        try:
            host = _host_for(request)
            context = await handler(request, host)
        except PageError as exc:
            return _render(request, "error.html", {"message": exc.message}, status=exc.status)
        return _render(request, template, {"host": host, **context})

    return run


# -- pages -----------------------------------------------------------------------------------------


async def galleries(request: web.Request, host: CanisterHost | None) -> dict[str, Any]:
    if host is None:
        return {"galleries": [], "next": None, "owner": ""}
    params = _params(request, "owner", "after")
    # One gallery per trip to the canister thread: a summary costs lookups over that gallery's own
    # memories, and IC messages queued meanwhile run between galleries instead of after the page.
    rows: list[dict[str, Any]] = []
    after = params.get("after", "")
    while len(rows) < PAGE_SIZE:
        data = await _view(request, host, "gallery_summaries", {**params, "after": after, "limit": "1"})
        if not data["galleries"]:
            break
        rows.append(data["galleries"][0])
        after = rows[-1]["id"]
    more = len(rows) == PAGE_SIZE
    return {"galleries": rows, "next": rows[-1]["id"] if more else None, "owner": params.get("owner", "")}


async def gallery(request: web.Request, host: CanisterHost | None) -> dict[str, Any]:
    gallery_id = request.query.get("id", "")
    if host is None or not gallery_id:
        raise PageError(404, "no gallery given")
    params = {"gallery_id": gallery_id, "limit": str(GALLERY_PAGE_SIZE), **_params(request, "after")}
    data = await _view(request, host, "gallery_memories", params)
    return {**data, "asset_base": f"/canisters/{host.canister_id}/assets"}


async def uploads(request: web.Request, host: CanisterHost | None) -> dict[str, Any]:
    if host is None:
        return {"active": [], "finished": [], "next": None}
    params = {**_params(request, "before_finished"), "limit": str(PAGE_SIZE)}
    data = await _view(request, host, "upload_board", params)
    return {**data, "now": host.clock.now()}


async def audit(request: web.Request, host: CanisterHost | None) -> dict[str, Any]:
    filters = _params(request, "principal", "method", "outcome")
    if host is None:
        return {"audit": [], "next": None, "filters": filters, "scanned": 0}
    data = await _view(request, host, "audit_search", {**filters, **_params(request, "before")})
    return {**data, "filters": filters}


async def controls(request: web.Request, host: CanisterHost | None) -> dict[str, Any]:
    replica = request.app[REPLICA]
    canisters = [
        {
            "canister_id": str(h.canister_id),
            "kind": h.canister_cls.__qualname__,
            "version": h.canister_cls.VERSION,
            "module_hash": h.canister_cls.module_hash().hex(),
            "time_ns": h.clock.now(),
            "clock_offset_ns": h.clock.offset_ns,
        }
        for h in replica.hosts.values()
    ]
    return {
        "canisters": canisters,
        "faults": [rule.to_json() for rule in replica.faults.list()],
        "actions": ACTIONS,
    }


async def metrics_page(request: web.Request, host: CanisterHost | None) -> dict[str, Any]:
    replica, registry = request.app[REPLICA], request.app[METRICS]
    figures: dict[str, dict[str, float]] = {}
    for cid, h in replica.hosts.items():
        values = dict(await replica.run_on(cid, h.figures))
        registry.set_figures(str(cid), values)  # the same gauges /metrics serves
        figures[str(cid)] = values
    return {"methods": glance.summarise(registry), "figures": figures}


# -- token cookie, events, static ------------------------------------------------------------------


async def start_session(request: web.Request) -> web.Response:
    """`{"token": T}` → the HttpOnly, SameSite=Strict cookie the guard accepts in place of the header."""
    listener = request.app[ADMIN_LISTENER]
    raw = await request.content.read(MAX_TOKEN_LENGTH * 2 + 64)
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return web.json_response({"error": "body is not JSON"}, status=400)
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        return web.json_response({"error": 'give {"token": "<admin token>"}'}, status=400)
    if listener.token is None:
        return web.json_response({"token_required": False})
    if not token_matches(listener.token, token):
        return web.json_response({"error": "wrong admin token"}, status=401)
    response = web.json_response({"token_required": True, "signed_in": True})
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
    return response


async def end_session(request: web.Request) -> web.Response:
    response = web.json_response({"signed_in": False})
    response.del_cookie(TOKEN_COOKIE, path="/")
    response.headers["Clear-Site-Data"] = '"cookies"'
    return response


async def event_stream(request: web.Request) -> web.StreamResponse:
    return await events.stream(request, request.app[INSPECTOR_BROADCASTER])


def board_snapshot(replica: Replica) -> Callable[[], Awaitable[str]]:
    """What each `uploads` event carries: the live sessions and the newest finished ones."""

    async def read() -> str:
        hosts = artifact_hosts(replica)
        if not hosts:
            return json.dumps({"active": [], "finished": []})
        host = hosts[0]
        now = host.clock.now()
        board = await replica.run_on(
            host.canister_id, lambda: host.inspect("upload_board", {"now": str(now), "limit": str(PAGE_SIZE)})
        )
        return json.dumps(
            {
                "canister": str(host.canister_id),
                "now": now,
                "sent_at": time.time(),
                "active": board["active"],
                "finished": [s["session_id"] for s in board["finished"]],
            },
            separators=(",", ":"),
        )

    return read


def static_file(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    body = resources.files("emulator.server.inspector").joinpath("static", name).read_bytes()

    async def serve(request: web.Request) -> web.Response:
        return web.Response(
            body=body,
            content_type=content_type,
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    return serve


def add_routes(app: web.Application) -> None:
    handlers: dict[str, tuple[str, PageHandler]] = {
        "/": ("galleries.html", galleries),
        "/inspector/gallery": ("gallery.html", gallery),
        "/inspector/uploads": ("uploads.html", uploads),
        "/inspector/audit": ("audit.html", audit),
        "/inspector/controls": ("controls.html", controls),
        "/inspector/metrics": ("metrics.html", metrics_page),
    }
    for path, (template, handler) in handlers.items():
        app.router.add_get(path, page(template, handler))
    app.router.add_post("/inspector/session", start_session)
    app.router.add_delete("/inspector/session", end_session)
    app.router.add_get("/inspector/events", event_stream)
    for name, content_type in STATIC_FILES.items():
        app.router.add_get(f"/inspector/static/{name}", static_file(name, content_type))


def open_paths() -> set[str]:
    """Paths the guard lets through without the token: pages (they check it and show the form),
    the two static files the form needs, and the route that checks a typed token."""
    return {*PAGES, "/inspector/session", *(f"/inspector/static/{n}" for n in STATIC_FILES)}
