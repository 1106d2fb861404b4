"""Metrics at a glance: the `/metrics` registry's own samples, summarised for a person.

Read from the same `EmulatorMetrics` registry that `/metrics` renders (never a second count), so
the page and a Prometheus scrape cannot disagree. Percentiles are estimated from the histogram's
buckets by linear interpolation inside the bucket, as Prometheus' `histogram_quantile` does.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from emulator.server.metrics import EmulatorMetrics

QUANTILES = (0.5, 0.95, 0.99)


@dataclass
class MethodFigures:
    endpoint: str
    method: str
    outcomes: dict[str, int] = field(default_factory=dict)
    count: int = 0
    percentiles_ms: dict[str, float | None] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """`q`-quantile from cumulative (upper bound, count) buckets, +Inf last; None without samples."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its bound is all we know
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def summarise(metrics: EmulatorMetrics) -> list[MethodFigures]:
    """Calls per method and outcome with latency percentiles, busiest method first."""
    rows: dict[tuple[str, str], MethodFigures] = {}
    buckets: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for family in metrics.registry.collect():
        for sample in family.samples:
            labels = sample.labels
            key = (labels.get("endpoint", ""), labels.get("method", ""))
            if sample.name == "storeforever_calls_total":
                row = rows.setdefault(key, MethodFigures(*key))
                row.outcomes[labels["outcome"]] = int(sample.value)
            elif sample.name == "storeforever_call_seconds_bucket":
                buckets[key].append((float(labels["le"]), sample.value))
            elif sample.name == "storeforever_call_seconds_count":
                rows.setdefault(key, MethodFigures(*key)).count = int(sample.value)
    for key, row in rows.items():
        ordered = sorted(buckets.get(key, []))
        for q in QUANTILES:
            value = bucket_quantile(q, ordered)
            row.percentiles_ms[f"p{round(q * 100)}"] = None if value is None else value * 1000
    return sorted(rows.values(), key=lambda r: (-r.total, r.endpoint, r.method))
