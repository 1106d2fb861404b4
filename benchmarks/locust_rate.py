"""Canister calls per second of one Locust worker process on a profile's user mix, old tree against new.

Issue 13 asks for the load generator's throughput per worker process on the smoke profile's user mix,
before and after, measured in one run. This script runs Locust headless, one process, against a
fresh emulator per round (same emulator code, from this checkout), and alternates the trees whose
locustfile and client it runs: ``--tree DIR`` adds an older checkout (for example a git worktree of
the commit before the change), so both figures come from the same minutes of this shared machine.

Per round it reports:

* ``calls/s``: canister calls (Locust events of type ``query`` and ``update``) over the run time;
* ``locust CPU``: user + system CPU of the Locust process over the same time, in cores;
* ``CPU ms/call``: the Locust process's CPU per canister call (robust to the machine's load);
* ``emulator cores``: the emulator's CPU over the run, in cores.

The profile's user counts are multiplied by ``--scale`` (default 3) so the worker, not the users'
wait times, bounds the rate: a figure is only a worker's capacity when its CPU is near one core
(or above, where verification runs on other threads). The user mix (classes, proportions, sizes,
waits) is the profile's. Failures are counted too: a faster generator that fails calls is not one.

    python -m benchmarks.locust_rate --tree /tmp/old-tree --rounds 3 --seconds 30
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from benchmarks.common import median
from benchmarks.gallery import process_cpu_seconds
from emulator.process import DEFAULT_ID as ARTIFACT_ID
from emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def scaled_profile(profile: Path, scale: int, seconds: int, out_dir: Path) -> Path:
    """A copy of ``profile`` with every user count times ``scale`` and the run time set.

    Written as TOML by hand (the stdlib reads TOML but does not write it): only the keys that change
    are rewritten; every other line is kept as it is.
    """
    data = tomllib.loads(profile.read_text(encoding="utf-8"))
    users = data["loadtest"]["users"]
    total = sum(int(u["count"]) * scale for u in users.values())
    lines: list[str] = []
    section = ""
    for line in profile.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]")
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else ""
        if section == "tool.locust" and key in {"users", "spawn-rate"}:
            line = f"{key} = {total}"
        elif section == "tool.locust" and key == "run-time":
            line = f'run-time = "{seconds}s"'
        elif section == "tool.locust" and key in {"csv", "html"}:
            line = f'{key} = "{out_dir / "run"}{".html" if key == "html" else ""}"'
        elif section.startswith("loadtest.users.") and key == "count":
            line = f"count = {int(users[section.rsplit('.', 1)[1]]['count']) * scale}"
        lines.append(line)
    path = out_dir / profile.name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def emulator_args(profile: Path) -> list[str]:
    out = subprocess.run(
        [PYTHON, "-m", "loadtests.profile", "emulator-args", str(profile)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return out.split()


def calls_from_csv(stats: Path) -> tuple[int, int]:
    """(canister calls, failures) from Locust's ``_stats.csv``: the ``query`` and ``update`` rows."""
    calls = failures = 0
    with stats.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["Type"] in {"query", "update"}:
                calls += int(row["Request Count"])
                failures += int(row["Failure Count"])
    return calls, failures


def one_round(tree: Path, profile: Path, scale: int, seconds: int, work: Path) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(dir=work))
    scaled = scaled_profile(profile, scale, seconds, run_dir)
    with EmulatorProcess(
        run_dir / "state",
        canisters=[f"artifact={ARTIFACT_ID}"],
        extra_args=[*emulator_args(profile), "--quiet"],
    ) as emu:
        assert emu.proc is not None
        emulator_pid = emu.proc.pid
        env = dict(os.environ, PYTHONPATH=str(tree))  # the tree's loadtests and clients come first
        cmd = [
            PYTHON, "-m", "locust", "-f", str(tree / "loadtests" / "locustfile.py"),
            "--config", str(scaled), "--load-profile", str(scaled),
            "--host", emu.url, "--canister-id", ARTIFACT_ID,
        ]  # fmt: skip
        emu_cpu0 = process_cpu_seconds(emulator_pid)
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        emu_cpu = process_cpu_seconds(emulator_pid) - emu_cpu0
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    stats = run_dir / "run_stats.csv"
    if not stats.exists():
        raise RuntimeError(f"locust wrote no stats (exit {proc.returncode}):\n{stderr[-3000:]}")
    calls, failures = calls_from_csv(stats)
    cpu = usage.ru_utime + usage.ru_stime
    # Locust's run time starts when it has spawned; start-up and shut-down are in `wall` and `cpu`
    # for both trees alike, so the rate uses the configured run time and the CPU its whole process.
    return {
        "tree": str(tree),
        "calls": calls,
        "failures": failures,
        "calls_per_s": calls / seconds,
        "locust_cpu_s": cpu,
        "locust_cores": cpu / wall,
        "cpu_ms_per_call": 1000.0 * cpu / max(calls, 1),
        "emulator_cores": emu_cpu / wall,
        "exit_code": proc.returncode,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="smoke", help="profile name or path (default smoke)")
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to compare")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--scale", type=int, default=3, help="multiply the profile's user counts")
    args = parser.parse_args(argv)

    profile = Path(
        subprocess.run(
            [PYTHON, "-m", "loadtests.profile", "path", args.profile],
            check=True, capture_output=True, text=True, cwd=ROOT,
        ).stdout.strip()
    )  # fmt: skip
    trees = [t.resolve() for t in args.tree] + [ROOT]
    results: dict[Path, list[dict[str, Any]]] = {t: [] for t in trees}
    load = os.getloadavg()[0]
    print(f"profile {profile.name} x{args.scale} users, {args.seconds} s per round, load {load:.2f}")
    print(
        f"{'tree':<28} {'calls/s':>8} {'fail':>5} {'locust cores':>12}"
        f" {'CPU ms/call':>11} {'emulator cores':>14}"
    )
    with tempfile.TemporaryDirectory(prefix="locust-rate-") as work:
        for _ in range(args.rounds):
            for tree in trees:
                r = one_round(tree, profile, args.scale, args.seconds, Path(work))
                results[tree].append(r)
                print(
                    f"{tree.name[-28:]:<28} {r['calls_per_s']:8.1f} {r['failures']:5d}"
                    f" {r['locust_cores']:12.2f} {r['cpu_ms_per_call']:11.2f} {r['emulator_cores']:14.2f}",
                    flush=True,
                )
    print("medians:")
    for tree, rs in results.items():
        print(
            f"{tree.name[-28:]:<28} {median([r['calls_per_s'] for r in rs]):8.1f} calls/s,"
            f" {median([r['cpu_ms_per_call'] for r in rs]):.2f} CPU ms/call,"
            f" {median([r['locust_cores'] for r in rs]):.2f} locust cores"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
