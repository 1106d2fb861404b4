"""The inspector: a live web page of the emulator's state, served by the admin listener at `/`.

`setup_inspector(app, replica, metrics)` is the one call `create_admin_app` makes; everything the page
needs (templates, static files, the event stream, the token cookie route) is registered from here.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp_jinja2
import jinja2
from aiohttp import web

from emulator.server.app_keys import (
    ADMIN_LISTENER,
    INSPECTOR_BROADCASTER,
    INSPECTOR_TEMPLATES,
    METRICS,
    REPLICA,
)
from emulator.server.inspector import events, routes
from emulator.server.metrics import EmulatorMetrics
from emulator.server.replica import Replica

__all__ = ["setup_inspector"]


def setup_inspector(app: web.Application, replica: Replica, metrics: EmulatorMetrics) -> None:
    """Register the pages on the admin app (after its guard is configured: it extends `open_paths`)."""
    app[REPLICA] = replica
    app[METRICS] = metrics
    broadcaster = events.UploadBroadcaster(metrics, routes.board_snapshot(replica))
    app[INSPECTOR_BROADCASTER] = broadcaster
    filters: dict[str, Callable[..., str]] = {
        "ns_time": routes.ns_time,
        "human_bytes": routes.human_bytes,
        "duration_ns": routes.duration_ns,
        "thousands": routes.thousands,
        "badge_class": routes.badge_class,
    }
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("emulator.server.inspector", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        app_key=INSPECTOR_TEMPLATES,
        filters=filters,
    )
    app[ADMIN_LISTENER].open_paths.update(routes.open_paths())
    routes.add_routes(app)

    async def close_streams(app: web.Application) -> None:
        await broadcaster.close()

    app.on_shutdown.append(close_streams)
