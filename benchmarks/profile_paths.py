"""Profile the emulator (and optionally the client) on one path: update, query or upload.

Attaches py-spy (`pip install py-spy`; it needs ptrace rights, i.e. root or
`kernel.yama.ptrace_scope=0`) to a running emulator process while one client drives the chosen path,
then prints the hottest frames by inclusive and by self time from the collapsed stacks. The client
side can be profiled in-process with pyinstrument (`--client`, `pip install pyinstrument`).

    python -m benchmarks.profile_paths query --seconds 10
    python -m benchmarks.profile_paths upload --mib 100 --concurrency 4
    python -m benchmarks.profile_paths update --client

These tools are for investigation only: nothing in the test suite or in bench.sh depends on them.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import MIB, emulator
from clients.artifact import ArtifactClient
from clients.ic import Connection, generate_ed25519
from emulator.process import DEFAULT_ID, EXAMPLE_ID

EMPTY_ARGS = b"DIDL\x00\x00"


def summarise(collapsed: Path, top: int) -> str:
    """Top frames by inclusive and self sample share, from py-spy's `--format raw` output."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples", "", "inclusive %  frame"]
    lines += [f"{100 * n / total:10.1f}  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "self %  frame"]
    lines += [f"{100 * n / total:6.1f}  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


def drive(path: str, url: str, seconds: float, mib: int, concurrency: int) -> Callable[[], None]:
    conn = Connection(url, generate_ed25519())
    if path == "update":

        def run() -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                conn.update_raw(EXAMPLE_ID, "inc", EMPTY_ARGS)

    elif path == "query":

        def run() -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                conn.query_raw(EXAMPLE_ID, "get", EMPTY_ARGS)

    else:
        art = ArtifactClient(conn, DEFAULT_ID)
        chunk = hashlib.sha256(b"x").digest() * (MIB // 32)
        digest = hashlib.sha256()
        for _ in range(mib):
            digest.update(chunk)

        def run() -> None:
            begun = art.begin_asset_upload(str(uuid.uuid4()), digest.hexdigest(), mib, mib * MIB)
            assert begun.session is not None
            sid = begun.session.session_id
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(lambda i: art.put_chunk(sid, i, chunk), range(mib)))
            art.commit_asset(sid, digest.hexdigest())

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", choices=["update", "query", "upload"])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--client", action="store_true", help="profile the client with pyinstrument instead")
    parser.add_argument("--out", type=Path, default=None, help="keep the collapsed stacks here")
    parser.add_argument("emulator_args", nargs="*", help="extra emulator flags, after --")
    args = parser.parse_args()
    extra = ["--quiet", *args.emulator_args]
    if args.path == "upload":
        extra += ["--limit", f"max_asset_size={args.mib * MIB}", "--limit", f"max_chunk_count={args.mib}"]
    with tempfile.TemporaryDirectory() as tmp, emulator(Path(tmp) / "state", extra_args=extra) as proc:
        run = drive(args.path, proc.url, args.seconds, args.mib, args.concurrency)
        if args.client:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            run()
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
            return
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        assert proc.proc is not None
        out = args.out or Path(tmp) / "collapsed.txt"
        spy = subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(proc.proc.pid),
                "--rate",
                str(args.rate),
                "--format",
                "raw",
                "--threads",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)  # let py-spy attach
        run()
        spy.send_signal(2)
        _, err = spy.communicate(timeout=60)
        if not out.exists():
            raise SystemExit(f"py-spy wrote nothing: {err.decode()[-2000:]}")
        print(summarise(out, args.top))


if __name__ == "__main__":
    main()
