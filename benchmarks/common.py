"""Shared pieces of the benchmarks: processes, percentiles, RSS, the machine description, JSON output.

Every benchmark writes its figures as JSON (one object per stage) so `benchmarks.report` can render the
table without parsing console text, and so the quick-mode test can check that every figure exists.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from emulator.process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess

MIB = 1024 * 1024
ARTIFACT = f"artifact={DEFAULT_ID}"
EXAMPLE = f"example={EXAMPLE_ID}"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: no interpolation, so a p95 is always a time that was measured."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(seconds, 50) * 1e3,
        "p95_ms": percentile(seconds, 95) * 1e3,
        "n": float(len(seconds)),
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """What the figures were measured on; ratios travel between machines, this says where they came from."""
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))


@dataclass
class FloorProcess:
    """`benchmarks.floor_server` as a separate process, like the emulator it is compared with."""

    work_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    started_at: float = 0.0
    _port_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._port_file = self.work_dir / "floor.ports.json"

    def start(self, timeout: float = 30.0) -> FloorProcess:
        self._port_file.unlink(missing_ok=True)
        db = self.work_dir / "floor.sqlite3"
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.floor_server",
            "--db",
            str(db),
            "--port-file",
            str(self._port_file),
        ]
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self._port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError("floor server exited early")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("floor server did not become ready")
            time.sleep(0.005)
        self.url = str(json.loads(self._port_file.read_text())["url"])
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@contextmanager
def floor_server(work_dir: Path) -> Iterator[FloorProcess]:
    proc = FloorProcess(work_dir).start()
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def emulator(
    state_dir: Path, canisters: Sequence[str] = (ARTIFACT, EXAMPLE), extra_args: Sequence[str] = ()
) -> Iterator[EmulatorProcess]:
    proc = EmulatorProcess(state_dir, canisters=list(canisters), extra_args=list(extra_args)).start()
    try:
        yield proc
    finally:
        proc.stop()


def wait_accepting(url: str, path: str, deadline: float) -> None:
    """Poll until `url + path` answers 200: "first accepted call" from the caller's side."""
    with httpx.Client(timeout=2.0) as http:
        while True:
            try:
                if http.get(url + path).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}{path} never answered")
            time.sleep(0.002)
