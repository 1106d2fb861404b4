"""Shared fixtures: real emulator processes on free ports with fresh state directories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clients.ic import generate_ed25519, save_pem
from tests.emulator_process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One emulator for the session hosting the example canister (and the artifact canister once present)."""
    proc = EmulatorProcess(
        tmp_path_factory.mktemp("emu") / "state",
        extra_args=["--controller", "yavxl-ppty4-enezb-hcalr-cdgzv-zoexx-7od3c-urvk6-rfzs4-552ct-7ae"],
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A private emulator for tests that restart, kill or upgrade it."""
    proc = EmulatorProcess(tmp_path / "state")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def artifact_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """The artifact canister at dfx's first id (plus the example canister), default contract limits."""
    proc = EmulatorProcess(
        tmp_path_factory.mktemp("artifact") / "state",
        canisters=[f"artifact={DEFAULT_ID}", f"example={EXAMPLE_ID}"],
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def owner_pem(tmp_path: Path) -> tuple[Path, Any]:
    """A controller's identity and its PEM file, for emulators started with `--controller PEM`."""
    identity = generate_ed25519()
    path = tmp_path / "owner.pem"
    save_pem(identity, path)
    return path, identity
