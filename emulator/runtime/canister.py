"""What a canister is to the runtime: a class with Candid-typed query and update methods.

A canister sees only a `CallContext` (caller, canister clock, an open transaction on its stable store)
and never the IC protocol, so the same class runs behind the HTTP interface, in unit tests with a fake
clock, or behind any other transport. It keeps no state in memory that matters: the runtime throws
the instance away on every simulated upgrade.
"""

from __future__ import annotations

import hashlib
import inspect
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from emulator.principal import Principal

Mode = Literal["query", "update"]
F = TypeVar("F", bound=Callable[..., Any])


class CanisterTrap(Exception):
    """`ic0.trap`: the message is rolled back and the caller gets reject 5 / IC0503 with this text."""


@dataclass(frozen=True, slots=True)
class CallContext:
    """Everything a method may know about the message it is executing."""

    caller: Principal
    time_ns: int
    canister_id: Principal
    method: str
    db: sqlite3.Connection
    on_rollback: Callable[[Callable[[], None]], None] = lambda undo: None
    """Register an undo for in-memory state the message changes (a cache beside its rows): it runs if
    the message's writes are rolled back (a trap, a COMMIT refused by a full disk). The host passes
    `StableStore.on_rollback`; contexts made outside a host (benchmarks) have nothing to undo."""


@dataclass(frozen=True, slots=True)
class Timer:
    """A periodic canister timer; the runtime fires it as the canister clock passes each interval."""

    name: str
    interval_ns: int
    callback: Callable[[CallContext], None]


def query(fn: F) -> F:
    """Mark a method as a query: it runs in a read-only transaction that is always rolled back."""
    fn._ic_mode = "query"  # type: ignore[attr-defined]
    return fn


def update(fn: F) -> F:
    """Mark a method as an update: it runs atomically, one at a time, and its effects are durable."""
    fn._ic_mode = "update"  # type: ignore[attr-defined]
    return fn


class Canister:
    """Base class of emulated canisters.

    Subclasses set `CANDID` (their service description, published as `candid:service` and used to
    decode arguments and encode replies) and `VERSION`, and decorate methods with `@query`/`@update`;
    the Candid method name is the Python name unless the method sets `_ic_name`.
    """

    CANDID: ClassVar[str] = "service : {}"
    VERSION: ClassVar[str] = "0"
    # Keys of the emulator's canister config this kind reads; the CLI refuses keys no hosted kind
    # knows, so a typo in `--limit` fails loudly instead of silently keeping a default.
    CONFIG_KEYS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: Mapping[str, Any] = config or {}

    def init(self, ctx: CallContext) -> None:
        """First installation: create the stable schema."""

    def pre_upgrade(self, ctx: CallContext) -> None:
        """Runs on the old instance before it is discarded."""

    def post_upgrade(self, ctx: CallContext) -> None:
        """Runs on the fresh instance against the carried-over stable store (schema migrations)."""

    def timers(self) -> Sequence[Timer]:
        """Timers to arm whenever an instance starts (install, upgrade, process start)."""
        return ()

    # -- emulator-only inspection (admin API); never reachable through the IC interface -------------

    def inspect_views(self) -> Sequence[str]:
        """Names of the read-only views the admin API may list (galleries, sessions, audit, …)."""
        return ()

    def inspect(self, db: sqlite3.Connection, view: str, params: Mapping[str, str]) -> Any:
        """JSON-ready rows of one view; `params` are the admin request's query parameters."""
        raise KeyError(view)

    def asset_chunk_count(self, db: sqlite3.Connection, key: str) -> int | None:
        """How many chunks the stored asset `key` has, or None when there is no such asset.

        Downloads read one chunk per call (`asset_chunk`), so no asset is ever held whole in memory.
        """
        return None

    def asset_chunk(self, db: sqlite3.Connection, key: str, index: int) -> bytes:
        raise KeyError(key)

    def figures(self, db: sqlite3.Connection) -> Mapping[str, float]:
        """Gauges for /metrics (active sessions, stored bytes); must be index lookups, not scans."""
        return {}

    @classmethod
    def exported_methods(cls) -> dict[str, tuple[Mode, str]]:
        """Candid method name -> (mode, Python attribute name)."""
        found: dict[str, tuple[Mode, str]] = {}
        for attr, member in inspect.getmembers(cls, inspect.isfunction):
            mode = getattr(member, "_ic_mode", None)
            if mode in ("query", "update"):
                found[getattr(member, "_ic_name", attr)] = (mode, attr)
        return found

    @classmethod
    def module_hash(cls) -> bytes:
        """Stands in for the Wasm module hash: changes whenever the code or declared version changes."""
        source = inspect.getsource(inspect.getmodule(cls) or cls)
        return hashlib.sha256(
            f"{cls.__module__}.{cls.__qualname__}:{cls.VERSION}\n{source}".encode()
        ).digest()
