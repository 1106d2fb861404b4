"""Every `web.AppKey` of the emulator's applications, in one place so handlers and tests agree on types."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from emulator.server.replica import Replica

REPLICA: web.AppKey[Replica] = web.AppKey("replica")
