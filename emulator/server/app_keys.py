"""Every `web.AppKey` of the emulator's applications, in one place so handlers and tests agree on types.

The IC interface app and the admin app (with the inspector pages registered on it) each hold what
they use under these keys; the replica and the metrics are the same objects in both. Types are
imported for the checker only: this module must stay importable by every server module.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    import jinja2

    from emulator.server.config import AdminListener, ConnectionLimits
    from emulator.server.inspector.events import UploadBroadcaster
    from emulator.server.metrics import EmulatorMetrics
    from emulator.server.replica import Replica
    from emulator.server.snapshot_archive import RestoreLimits

# Both apps
REPLICA: web.AppKey[Replica] = web.AppKey("replica")
CONNECTION_LIMITS: web.AppKey[ConnectionLimits] = web.AppKey("connection_limits")

# The admin app
METRICS: web.AppKey[EmulatorMetrics] = web.AppKey("metrics")
ADMIN_LISTENER: web.AppKey[AdminListener] = web.AppKey("admin_listener")
WORK_DIR: web.AppKey[Path] = web.AppKey("admin_work_dir")
RESTORE_LIMITS: web.AppKey[RestoreLimits] = web.AppKey("admin_restore_limits")
RESTORE_LOCK: web.AppKey[asyncio.Lock] = web.AppKey("admin_restore_lock")
"""One restore at a time: two interleaved swaps could leave canisters from different snapshots."""

# The inspector pages (on the admin app)
INSPECTOR_BROADCASTER: web.AppKey[UploadBroadcaster] = web.AppKey("inspector_broadcaster")
INSPECTOR_TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("inspector_templates")
