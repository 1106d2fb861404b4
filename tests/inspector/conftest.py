"""Fixtures for the inspector's browser tests: Debian's Chromium driven by Playwright, real emulators,
the real `storeforever` CLI as a subprocess, and screenshots under `reports/inspector/`.

Playwright's own browser download is never used: the browser is `/usr/bin/chromium` from Debian
(`scripts/setup.sh --system` installs it; without it the tests skip locally and fail under CI=true).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator_process import DEFAULT_ID, EmulatorProcess
from tests.system_deps import require_command

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "reports" / "inspector"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CLI_TIMEOUT_S = 120  # a hang guard, not a measurement


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Package-scoped: Playwright's sync API keeps an event loop running in the main thread while it
    is open, so it must be closed before later packages' asyncio tests run (they cannot start one)."""
    executable = require_command("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def inspector_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A private emulator (faults and clock moves stay in the test), artifact canister at dfx's first id."""
    proc = EmulatorProcess(tmp_path / "state", canisters=[f"artifact={DEFAULT_ID}"])
    proc.start()
    yield proc
    proc.stop()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target


class Cli:
    """The real `storeforever` command as its own process, as one fresh user (own config dir)."""

    def __init__(self, config_dir: Path) -> None:
        self.env = {**os.environ, "XDG_CONFIG_HOME": str(config_dir)}
        self.env.pop("STOREFOREVER_IDENTITY", None)

    @staticmethod
    def command(emulator: EmulatorProcess, *args: str) -> list[str]:
        common = ["--url", emulator.url, "--json", "--quiet", "--retries", "0"]
        return [sys.executable, "-m", "storeforever", *args, *common]

    def __call__(self, emulator: EmulatorProcess, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(emulator, *args), env=self.env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S
        )

    def start(self, emulator: EmulatorProcess, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(emulator, *args),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "config")


def write_manifest(
    folder: Path, *, title: str, files: int, metadata_only: int = 0, size: int = 4096
) -> tuple[Path, str]:
    """A gallery manifest with `files` memories carrying a file and `metadata_only` without one."""
    folder.mkdir(parents=True, exist_ok=True)
    memories: list[dict[str, Any]] = []
    for i in range(files):
        name = f"m{i}.bin"
        (folder / name).write_bytes(os.urandom(size))
        metadata = {"title": f"#{i}"}
        memories.append({"id": new_id(), "memory_type": "Image", "file": name, "metadata": metadata})
    for i in range(metadata_only):
        memories.append({"id": new_id(), "memory_type": "Note", "metadata": {"title": f"note {i}"}})
    gallery_id = new_id()
    manifest = folder / "gallery.json"
    manifest.write_text(
        json.dumps({"version": 1, "gallery": {"id": gallery_id, "title": title}, "memories": memories})
    )
    return manifest, gallery_id
