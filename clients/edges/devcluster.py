"""A throw-away PostgreSQL cluster (initdb + pg_ctl in a temporary directory) for tests and benchmarks.

Why here and not in tests/: the benchmark (``benchmarks/edges_apply.py``) needs the same cluster and
shipped code does not import tests. Debian's ``postgresql`` package puts ``initdb``/``pg_ctl`` in
``/usr/lib/postgresql/<version>/bin`` (not on PATH). The server refuses to run as root, so as root it
runs as the ``postgres`` user the package creates. It listens on 127.0.0.1 on a free port (trust
authentication: a private, short-lived cluster) and on a unix socket in its own directory, with
durability off (fsync, full-page writes): nothing in it outlives the process.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

__all__ = ["Cluster", "ClusterUnavailable", "find_bindir", "throwaway_cluster"]


class ClusterUnavailable(RuntimeError):
    """PostgreSQL's server binaries (or the postgres user, as root) are not on this machine."""


def find_bindir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0,
        reverse=True,
    )
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ClusterUnavailable(
        "initdb not found: install Debian's postgresql (bash scripts/setup.sh --system, as root)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    directory: Path
    port: int
    _numbers: Iterator[int] = field(default_factory=count)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"db{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """Start a cluster, yield it, and stop it and delete its directory whatever happens."""
    bindir = find_bindir()
    prefix: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ClusterUnavailable(
                "as root the server must run as the postgres user, which is missing"
            ) from exc
        prefix = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="storeforever-pg-"))
    root.chmod(0o755)
    data, sock, log = root / "data", root / "socket", root / "server.log"
    data.mkdir()
    sock.mkdir()
    log.touch()
    if owner is not None:
        for path in (root, data, sock, log):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        initdb = [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        subprocess.run(
            [*initdb, "-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = (
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100"
        )
        subprocess.run(
            [*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", "60", "start"],
            check=True,
            capture_output=True,
            timeout=90,
        )
        started = True
        yield Cluster(root, port)
    except subprocess.CalledProcessError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(  # installed but broken: a failure, never a skip
            f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')}\n{tail}"
        ) from exc
    finally:
        if started:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
