"""Prometheus metrics of the emulator (served on the admin API's `/metrics`).

Each emulator process owns its own registry (never the library's global one), so tests that run
several emulators, or an app created twice in one process, do not collide.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from emulator.server.decoding import DecodeScheduler
from emulator.server.replica import CallRecord

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class EmulatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "storeforever_calls",
            "Messages handled, by endpoint, method and outcome",
            ["endpoint", "method", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "storeforever_call_seconds",
            "Server-side time per message",
            ["endpoint", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.gauges = Gauge(
            "storeforever_canister_state",
            "Canister state figures (active sessions, stored bytes, …)",
            ["canister", "figure"],
            registry=self.registry,
        )
        # Set by the inspector page only while it streams; None costs observe() one check.
        self.listener: Callable[[CallRecord], None] | None = None

    def watch_decoding(self, decoding: DecodeScheduler) -> None:
        """Argument decodes waiting in their caller's line and running in the pool, read at scrape time."""
        decodes = Gauge(
            "storeforever_candid_decodes",
            "Candid argument decodes by state (waiting for the caller's turn, running)",
            ["state"],
            registry=self.registry,
        )
        decodes.labels("waiting").set_function(lambda: decoding.waiting)
        decodes.labels("running").set_function(lambda: decoding.running)

    def observe(self, record: CallRecord) -> None:
        self.calls.labels(record.endpoint, record.method, record.outcome).inc()
        self.latency.labels(record.endpoint, record.method).observe(record.duration_s)
        if self.listener is not None:
            self.listener(record)

    def set_figures(self, canister: str, figures: dict[str, float]) -> None:
        for name, value in figures.items():
            self.gauges.labels(canister, name).set(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
