"""Emulator configuration: one frozen value built from CLI flags (and, for limits, a config file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract import DEFAULT_ADMIN_PORT, DEFAULT_PORT
from emulator.principal import Principal
from emulator.server.connections import ConnectionLimits

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
