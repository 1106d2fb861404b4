"""Fixtures for the client tests: real emulators, real agents (``clients.ic.Connection``), fresh keys.

Each test gets its own identity, so the per-caller session limit and quotas of one test never leak
into another even on the shared session emulator. Tests that inject faults or move the clock use
``faulty_emulator`` (one per module) so the rules never touch anyone else's tests.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clients.admin import AdminClient
from clients.artifact import ArtifactClient, CircuitBreaker, ClientOptions, RetryBudget, RetryPolicy
from clients.ic import Connection, generate_ed25519
from tests.emulator_process import DEFAULT_ID, EmulatorProcess

FAST = RetryPolicy(retries=3, base_delay=0.01, max_delay=0.05, jitter=0.01)


def new_id() -> str:
    return str(uuid.uuid4())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_client(
    url: str,
    identity: Any = None,
    *,
    policy: RetryPolicy = FAST,
    breaker: CircuitBreaker | None = None,
    budget: RetryBudget | None = None,
    **kwargs: Any,
) -> ArtifactClient:
    """A client with fast retries, a generous budget and a fresh breaker unless one is given;
    ``kwargs`` are further ``ClientOptions`` fields (``on_retry=``…)."""
    conn = Connection(url, identity if identity is not None else generate_ed25519())
    options = ClientOptions(
        retry_policy=policy,
        breaker=breaker if breaker is not None else CircuitBreaker(),
        budget=budget or RetryBudget(floor=1000, capacity=1000),
        **kwargs,
    )
    return ArtifactClient(conn, DEFAULT_ID, options)


def downloaded_sha256(admin_url: str, memory_id: str) -> str:
    digest = hashlib.sha256()
    with AdminClient(admin_url) as admin:
        for block in admin.download_asset(DEFAULT_ID, memory_id):
            digest.update(block)
    return digest.hexdigest()


def start_artifact_emulator(state: Path, config: dict[str, Any] | None = None) -> EmulatorProcess:
    extra: list[str] = []
    if config:
        cfg = state.parent / f"{state.name}.config.json"
        cfg.write_text(json.dumps(config))
        extra = ["--config", str(cfg)]
    return EmulatorProcess(state, canisters=[f"artifact={DEFAULT_ID}"], extra_args=extra).start()


@pytest.fixture
def client(artifact_emulator: EmulatorProcess) -> ArtifactClient:
    return make_client(artifact_emulator.url)


@pytest.fixture
def client_factory(artifact_emulator: EmulatorProcess) -> Callable[..., ArtifactClient]:
    return lambda *a, **kw: make_client(artifact_emulator.url, *a, **kw)


@pytest.fixture(scope="module")
def faulty_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    proc = start_artifact_emulator(tmp_path_factory.mktemp("faulty") / "state")
    yield proc
    proc.stop()


@pytest.fixture
def admin(faulty_emulator: EmulatorProcess) -> Iterator[AdminClient]:
    with AdminClient(faulty_emulator.admin_url) as a:
        a.clear_faults()
        yield a
        a.clear_faults()
