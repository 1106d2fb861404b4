"""A throw-away PostgreSQL cluster per test session and a fresh database per test (never a mock).

The cluster comes from Debian's ``postgresql`` package (``scripts/setup.sh --system``): ``initdb`` and
``pg_ctl`` live in ``/usr/lib/postgresql/<version>/bin``, not on PATH. It runs in a temporary
directory on a free port with its unix socket there too; as root (CI) it runs as the ``postgres``
user, because the server refuses to run as root. It is stopped at the end of the session whatever
happened (``pg_ctl stop -m immediate``, then the directory is removed).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from clients.edges.schema import DEV_FIXTURE_SQL
from tests.system_deps import missing

_numbers = itertools.count()


def _pg_bin() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]), reverse=True
    )
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    missing("initdb not found: install Debian's postgresql (bash scripts/setup.sh --system, as root)")
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    directory: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"t{os.getpid()}_{next(_numbers)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    bindir = _pg_bin()
    prefix: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            missing("running as root needs the postgres user (Debian's postgresql package creates it)")
        prefix = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="storeforever-pg-"))
    root.chmod(0o755)
    data, sock = root / "data", root / "socket"
    data.mkdir()
    sock.mkdir()
    if owner is not None:
        for path in (root, data, sock):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    log = root / "server.log"
    log.touch()
    if owner is not None:
        os.chown(log, owner.pw_uid, owner.pw_gid)
    started = False
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
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
        raise RuntimeError(
            f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')}\n{tail}"
        ) from exc
    finally:
        if started:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(
                    [*pg_ctl, "-m", "immediate", "stop"],
                    capture_output=True,
                    timeout=60,
                )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def empty_db(pg_cluster: Cluster) -> str:
    """A fresh, empty database (URL)."""
    return pg_cluster.create_database()


@pytest.fixture
def edges_db(empty_db: str) -> str:
    """A fresh database holding the app's schema (the dev fixture)."""
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(DEV_FIXTURE_SQL.encode())
    return empty_db
