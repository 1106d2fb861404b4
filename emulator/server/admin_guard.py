"""Same-origin rules of the admin listener: who may drive it from where.

The threat: an engineer runs the emulator on a laptop next to a browser. Any web page the browser
opens can send requests to `http://127.0.0.1:4944` — without a token (the default) a `text/plain`
POST from a foreign site would add fault rules or wipe the state. Three kinds of request matter:

* **Cross-site "simple" requests (CSRF).** A browser sends a cross-origin POST without asking first
  when its content type is `text/plain`, `application/x-www-form-urlencoded` or `multipart/form-data`.
  Every state-changing request must therefore carry a non-simple content type (`application/json`,
  or `application/zip` for a restore upload), which forces a CORS preflight the listener never
  grants; the check answers 415 before any handler runs.
* **Cross-origin requests.** A browser names the page that made a request in `Origin`; anything but
  the listener's own origin (including `Origin: null` from sandboxed frames and `file:` pages) is
  refused with 403. Requests without `Origin` (curl, the CLI, the Python client) are not from a
  browser page and pass.
* **Cross-site "no-cors" reads.** An `<img>` or `<script>` tag makes the browser send a GET without
  `Origin`; it cannot read the answer but can make the listener work (a whole-state snapshot). Browsers
  label every request with `Sec-Fetch-Site`; a `cross-site` or `same-site` one is refused (403) unless
  it is a top-level navigation GET (a link to the inspector page), the resource isolation policy
  recommended by the Fetch Metadata specification.
* **DNS rebinding.** A hostile name can be re-pointed at 127.0.0.1 after the page loaded, making the
  request same-origin from the browser's point of view; the browser still sends the hostile name in
  `Host`, so only the listener's own names are accepted there (403 otherwise).

The optional token (`--admin-token`) is for listeners bound beyond loopback or on shared machines:
`Authorization: Bearer T` from programs, or the `sf_admin_token` cookie (SameSite=Strict, HttpOnly)
set by the inspector page's login form. Both go through `token_matches`, a constant-time compare.

The inspector page served by the same listener reuses `allowed_hosts`/`AdminListener` rather than
repeating the rules.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from emulator.server.app_keys import ADMIN_LISTENER
from emulator.server.config import AdminListener

TOKEN_COOKIE = "sf_admin_token"
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
JSON_TYPE = "application/json"
ZIP_TYPE = "application/zip"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class GuardRefusal(Exception):
    """A request refused by the rules: HTTP status and the reason given to the caller."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _normal_name(name: str) -> str:
    name = name.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_hosts(listener: AdminListener) -> frozenset[str]:
    """Names (lower case, IPv6 without brackets) under which the listener may be addressed.

    Loopback names always; the configured bind host when it is a name or a specific address. A
    wildcard bind (0.0.0.0, ::) also allows this machine's host names; any IP literal is accepted by
    `host_allowed` in that case, since a page can only send an IP literal `Host` from that very origin.
    """
    names = {_normal_name(n) for n in LOOPBACK_NAMES}
    bind = _normal_name(listener.bind_host)
    if bind in WILDCARD_HOSTS:
        hostname = socket.gethostname()
        names.update({_normal_name(hostname), _normal_name(socket.getfqdn(hostname))})
    else:
        names.add(bind)
    names.discard("")
    return frozenset(names)


def split_host_port(value: str) -> tuple[str, int | None]:
    """`host[:port]` or `[v6][:port]` → (normalised host, port or None). Raises ValueError."""
    value = value.strip()
    if not value:
        raise ValueError("empty host")
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ValueError("unterminated IPv6 literal")
        host, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("junk after IPv6 literal")
        port_text = rest[1:] if rest else None
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    elif ":" in value:
        raise ValueError("IPv6 literal without brackets")
    else:
        host, port_text = value, None
    port = None
    if port_text is not None:
        if not port_text.isdigit() or len(port_text) > 5:
            raise ValueError(f"bad port {port_text!r}")
        port = int(port_text)
    return _normal_name(host), port


def host_allowed(listener: AdminListener, host: str, port: int | None) -> bool:
    """Whether `host:port` names this listener (a missing port means 80, as a browser sends it)."""
    if listener.port is None or (port if port is not None else 80) != listener.port:
        return False
    if host in allowed_hosts(listener):
        return True
    return _normal_name(listener.bind_host) in WILDCARD_HOSTS and _is_ip_literal(host)


def allowed_origins(listener: AdminListener) -> frozenset[str]:
    """The listener's own origins as a browser spells them (for pages and documentation)."""
    if listener.port is None:
        return frozenset()
    return frozenset(
        f"http://[{name}]:{listener.port}" if ":" in name else f"http://{name}:{listener.port}"
        for name in allowed_hosts(listener)
    )


def token_matches(expected: str, offered: str | None) -> bool:
    """Constant-time comparison, so the time to refuse says nothing about how much of a guess was right."""
    if offered is None:
        return False
    return hmac.compare_digest(expected.encode(), offered.encode())


def offered_token(request: web.Request) -> str | None:
    """The token from `Authorization: Bearer T`, else from the inspector's cookie."""
    auth = request.headers.get("Authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return request.cookies.get(TOKEN_COOKIE)


def check_host(listener: AdminListener, request: web.Request) -> None:
    host_header = request.headers.get("Host")
    if host_header is None:
        raise GuardRefusal(403, "missing Host header")
    try:
        host, port = split_host_port(host_header)
    except ValueError as exc:
        raise GuardRefusal(403, f"malformed Host header: {exc}") from exc
    if not host_allowed(listener, host, port):
        raise GuardRefusal(403, f"Host {host_header!r} is not this admin listener (DNS rebinding defence)")


def check_origin(listener: AdminListener, request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return
    try:
        parts = urlsplit(origin.strip())
        if parts.scheme != "http" or parts.path or parts.query or parts.fragment:
            raise ValueError("not an http origin")
        host, port = split_host_port(parts.netloc)
    except ValueError:
        raise GuardRefusal(403, f"cross-origin request from {origin!r} refused") from None
    if "@" in parts.netloc or not host_allowed(listener, host, port):
        raise GuardRefusal(403, f"cross-origin request from {origin!r} refused")


def check_fetch_metadata(request: web.Request) -> None:
    site = request.headers.get("Sec-Fetch-Site")
    if site is None or site in ("same-origin", "none"):
        return
    navigation = request.method in ("GET", "HEAD") and request.headers.get("Sec-Fetch-Mode") == "navigate"
    if not navigation:
        raise GuardRefusal(403, f"{site} request refused (Sec-Fetch-Site)")


def check_content_type(listener: AdminListener, request: web.Request) -> None:
    if request.method not in STATE_CHANGING_METHODS:
        return
    expected = listener.upload_types.get((request.method, request.path), JSON_TYPE)
    # `request.content_type` defaults to application/octet-stream when the header is missing.
    given = request.headers.get("Content-Type")
    if given is None or request.content_type != expected:
        raise GuardRefusal(
            415,
            f"{request.method} {request.path} needs Content-Type: {expected} "
            f"(got {given!r}; simple cross-site content types are refused)",
        )


def check_token(listener: AdminListener, request: web.Request) -> None:
    if listener.token is None or request.path in listener.open_paths:
        return
    if not token_matches(listener.token, offered_token(request)):
        raise GuardRefusal(401, "missing or wrong admin token (Authorization: Bearer or cookie)")


def check_request(listener: AdminListener, request: web.Request) -> None:
    """All rules, in the order that gives the most useful refusal; raises GuardRefusal."""
    check_host(listener, request)
    check_origin(listener, request)
    check_fetch_metadata(request)
    check_token(listener, request)
    check_content_type(listener, request)


@web.middleware
async def same_origin_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuses requests that break the rules above before any admin handler sees them."""
    listener = request.app[ADMIN_LISTENER]
    try:
        check_request(listener, request)
    except GuardRefusal as refusal:
        return web.json_response({"error": refusal.reason}, status=refusal.status)
    return await handler(request)
