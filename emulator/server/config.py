"""Emulator configuration: one frozen value built from CLI flags (and, for limits, a config file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract import DEFAULT_ADMIN_PORT, DEFAULT_PORT
from emulator.principal import Principal

# The application-subnet range PocketIC allocates from; agents check the canister lies inside it.
CANISTER_RANGE = (
    Principal(bytes.fromhex("ffffffffff9000000101")),
    Principal(bytes.fromhex("ffffffffff9fffff0101")),
)
DEFAULT_STATE_DIR = Path(".storeforever")


@dataclass(frozen=True, slots=True)
class CanisterSpec:
    """Which canister code runs under which id."""

    kind: str
    canister_id: Principal


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a client may hold a connection or dribble a body (`emulator/server/connections.py`)."""

    idle_timeout_s: float = 60.0
    body_idle_timeout_s: float = 30.0
    body_timeout_s: float = 120.0
    lingering_s: float = 2.0
    """After an early refusal (413, 415, 408) aiohttp reads and discards the rest of the body so the
    connection can be reused; its default of 10 s would let a refused client hold the socket."""

    def __post_init__(self) -> None:
        for name in ("idle_timeout_s", "body_idle_timeout_s", "body_timeout_s"):
            value = getattr(self, name)
            if not 0 < value < 86_400:
                raise ValueError(f"{name} must be between 0 and 86400 seconds, got {value!r}")

    def runner_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `web.AppRunner` (passed on to aiohttp's request handler)."""
        return {
            "keepalive_timeout": self.idle_timeout_s,
            "lingering_time": self.lingering_s,
            "auto_decompress": False,
        }


OPEN_PATHS = frozenset({"/health", "/ready"})
"""Admin paths answered without the token: health checks (the guard's other rules still apply)."""


@dataclass
class AdminListener:
    """Where the admin app listens. `port` is filled in once the socket is bound (port 0 = any)."""

    bind_host: str = "127.0.0.1"
    port: int | None = None
    token: str | None = None
    # Paths answered without the token (the inspector adds its login page here).
    open_paths: set[str] = field(default_factory=lambda: set(OPEN_PATHS))
    # Non-JSON content types allowed on a state-changing route: (method, path) -> content type.
    upload_types: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    admin_host: str = "127.0.0.1"
    admin_port: int = DEFAULT_ADMIN_PORT
    admin_token: str | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    canisters: tuple[CanisterSpec, ...] = ()
    controllers: tuple[Principal, ...] = ()
    durability: str = "full"
    canister_config: dict[str, Any] = field(default_factory=dict)
    timer_tick_seconds: float = 1.0
    log_calls: bool = True
    # False answers 404 on /api/v3|v4/.../call like a replica without synchronous calls, so agents
    # fall back to v2 call + read_state polling (how that path gets exercised).
    sync_call: bool = True
    connection_limits: ConnectionLimits = field(default_factory=ConnectionLimits)
