"""Shared pieces of the attack tests: a probe that proves the emulator still serves others."""

from __future__ import annotations

import httpx


def probe_status(url: str, hang_guard: float = 30.0) -> int:
    """GET /api/v2/status; the timeout is a hang guard (the emulator stopped serving), not a speed test."""
    return httpx.get(f"{url}/api/v2/status", timeout=hang_guard).status_code
