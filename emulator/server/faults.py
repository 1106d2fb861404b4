"""Fault injection rules for exercising clients' retry logic (admin API `/faults`).

A rule matches calls by endpoint kind and method, fires for the next N matches or with a probability,
and does one thing: reject with a reject code (e.g. 2 SYS_TRANSIENT) without executing, answer an HTTP
status (429, 503) without executing, add latency then proceed, or execute and drop the reply (the state
changed but the client sees a failure, so only idempotent retries are safe). Rules are checked in
order; the first that fires wins, like Toxiproxy's and WireMock's first-match lists.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = Literal["reject", "http_status", "latency", "drop_reply"]
Endpoint = Literal["call", "query", "any"]
ACTIONS: tuple[str, ...] = ("reject", "http_status", "latency", "drop_reply")


class FaultRuleError(ValueError):
    """A rule given to the admin API is not valid; the message says which field."""


RULE_FIELDS = frozenset(
    {
        "action",
        "method",
        "endpoint",
        "count",
        "probability",
        "reject_code",
        "reject_message",
        "error_code",
        "http_status",
        "latency_ms",
    }
)
"""The fields a fault rule's JSON may carry (`POST /faults`); any other is refused."""


@dataclass(slots=True)
class FaultRule:
    action: Action
    method: str = "*"
    endpoint: Endpoint = "any"
    count: int | None = None
    probability: float | None = None
    reject_code: int = 2
    reject_message: str = "Fault injected: the subnet is temporarily unavailable"
    error_code: str | None = None
    http_status: int = 503
    latency_ms: int = 0
    id: int = 0
    fired: int = field(default=0)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        unknown = set(data) - RULE_FIELDS
        if unknown:
            raise FaultRuleError(f"unknown fields: {', '.join(sorted(unknown))}")
        if data.get("action") not in ACTIONS:
            raise FaultRuleError(f"action must be one of {', '.join(ACTIONS)}")
        if data.get("endpoint", "any") not in ("call", "query", "any"):
            raise FaultRuleError("endpoint must be call, query or any")
        rule = cls(**data)
        if rule.count is not None and rule.count < 1:
            raise FaultRuleError("count must be at least 1")
        if rule.probability is not None and not 0.0 <= rule.probability <= 1.0:
            raise FaultRuleError("probability must be within [0, 1]")
        if not 1 <= rule.reject_code <= 6:
            raise FaultRuleError("reject_code must be 1..6")
        if not 400 <= rule.http_status <= 599:
            raise FaultRuleError("http_status must be a 4xx or 5xx status")
        if not 0 <= rule.latency_ms <= 600_000:
            raise FaultRuleError("latency_ms must be within [0, 600000]")
        if rule.action == "drop_reply" and rule.endpoint == "query":
            raise FaultRuleError("drop_reply applies to calls (a query changes nothing)")
        if rule.error_code is None:
            # IC error codes are "IC" + a 4-digit number whose leading digit is the reject code.
            rule.error_code = f"IC0{rule.reject_code}01"
        return rule

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, endpoint: str, method: str) -> bool:
        return (self.endpoint in ("any", endpoint)) and self.method in ("*", method)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count


class FaultInjector:
    """The ordered rule list; thread-safe because the admin API and the replica share it."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = next(self._ids)
            self._rules.append(rule)
            return rule

    def list(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def clear(self, rule_id: int | None = None) -> int:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if rule_id is not None and r.id != rule_id]
            return before - len(self._rules)

    def pick(self, endpoint: str, method: str) -> FaultRule | None:
        """The first matching live rule that fires for this message, or None."""
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.matches(endpoint, method):
                    continue
                if rule.probability is not None and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                if rule.exhausted:
                    self._rules.remove(rule)
                return rule
        return None
