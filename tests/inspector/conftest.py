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
from collections.abc import Callable, Iterator
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

Cli = Callable[..., "subprocess.CompletedProcess[str]"]


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
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


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """`cli(emulator, *args)`: the real `storeforever` command as its own process, as one fresh user."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("STOREFOREVER_IDENTITY", None)

    def command(emulator: EmulatorProcess, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "emulator",
            *args,
            "--url",
            emulator.url,
            "--json",
            "--quiet",
            "--retries",
            "0",
        ]

    def run(emulator: EmulatorProcess, *args: str, background: bool = False) -> Any:
        if background:
            return subprocess.Popen(
                command(emulator, *args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        return subprocess.run(
            command(emulator, *args), env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S
        )

    return run


def write_manifest(
    folder: Path, *, title: str, files: int, metadata_only: int = 0, size: int = 4096
) -> tuple[Path, str]:
    """A gallery manifest with `files` memories carrying a file and `metadata_only` without one."""
    folder.mkdir(parents=True, exist_ok=True)
    memories: list[dict[str, Any]] = []
    for i in range(files):
        name = f"m{i}.bin"
        (folder / name).write_bytes(os.urandom(size))
        memories.append({"id": new_id(), "memory_type": "Image", "file": name, "metadata": {"title": f"#{i}"}})
    for i in range(metadata_only):
        memories.append({"id": new_id(), "memory_type": "Note", "metadata": {"title": f"note {i}"}})
    gallery_id = new_id()
    manifest = folder / "gallery.json"
    manifest.write_text(
        json.dumps({"version": 1, "gallery": {"id": gallery_id, "title": title}, "memories": memories})
    )
    return manifest, gallery_id
