"""``storeforever edges apply`` of N storage-edge lines against PostgreSQL's own COPY of the same rows.

What is compared, in the same run on the same server: (a) ``apply_edges`` reading the JSON-lines
file, validating every line, COPYing batches into a staging table and upserting them into
``storage_edges`` in one transaction (into an empty table: every row an insert); (b) the same rows,
already as COPY text, ``COPY``'d straight into an empty ``storage_edges`` (the floor: no parsing, no
validation, no conflict handling); (c) the same file applied again, every row already up to date (the
re-run case: the ``WHERE <something changed>`` guard writes nothing). Each figure is the median of
``--repeats`` runs, each on a fresh database.

With ``--audit``, also ``edges audit`` of those rows against a fresh emulator that holds none of the
memories (every edge is drift), against its floor: the presence queries alone (the same pages of 100
ids through the same client), then ``--fix`` of all of them.

    python -m benchmarks.edges_apply --rows 100000 [--audit] [--database-url URL] [--json out.json]

Without ``--database-url`` it starts a throw-away cluster (``clients.edges.devcluster``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from clients.edges.apply import apply_edges
from clients.edges.devcluster import throwaway_cluster
from clients.edges.schema import DEV_FIXTURE_SQL

TYPES = ("image", "video", "audio", "document", "note")


def make_rows(count: int) -> list[tuple[str, str, str, str]]:
    """(memory_id, memory_type, artifact, content_hash): count/2 memories, two artifacts each."""
    rows = []
    for i in range((count + 1) // 2):
        mid = str(uuid.uuid4())
        for artifact in ("metadata", "asset"):
            rows.append(
                (mid, TYPES[i % 5], artifact, hashlib.sha256(f"{mid}{artifact}".encode()).hexdigest())
            )
    return rows[:count]


def write_jsonl(rows: list[tuple[str, str, str, str]], path: Path) -> None:
    with path.open("w") as fh:
        for mid, mtype, artifact, digest in rows:
            doc = {
                "memory_id": mid,
                "artifact": artifact,
                "backend": "icp-canister",
                "present": True,
                "content_hash": digest,
                "size": 4096,
                "memory_type": mtype,
            }
            fh.write(json.dumps(doc) + "\n")


def copy_text(rows: list[tuple[str, str, str, str]]) -> bytes:
    out = io.StringIO()
    for mid, mtype, artifact, digest in rows:
        out.write(f"{mid}\t{mtype}\t{artifact}\ticp-canister\tt\tidle\t{digest}\n")
    return out.getvalue().encode()


def fresh_database(new_db: Callable[[], str]) -> str:
    url = new_db()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DEV_FIXTURE_SQL.encode())
    return url


def time_apply(url: str, path: Path) -> tuple[float, dict[str, Any]]:
    with psycopg.connect(url, autocommit=True) as conn, path.open("rb") as fh:
        started = time.perf_counter()
        result = apply_edges(conn, fh)
        return time.perf_counter() - started, result.to_json()


def time_copy(url: str, data: bytes) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(
                "COPY storage_edges (memory_id, memory_type, artifact, backend, present, sync_state, "
                "content_hash) FROM STDIN"
            ) as copy,
        ):
            copy.write(data)
        return time.perf_counter() - started


@contextlib.contextmanager
def database_factory(database_url: str | None) -> Iterator[Callable[[], str]]:
    if database_url is None:
        with throwaway_cluster() as cluster:
            yield cluster.create_database
        return
    counter = iter(range(1_000_000))

    def create() -> str:
        name = f"edges_bench_{uuid.uuid4().hex[:8]}_{next(counter)}"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return psycopg.conninfo.make_conninfo(database_url, dbname=name)

    yield create


def run(rows_count: int, repeats: int, database_url: str | None = None) -> dict[str, Any]:
    rows = make_rows(rows_count)
    with tempfile.TemporaryDirectory() as tmp, database_factory(database_url) as new_db:
        path = Path(tmp) / "edges.jsonl"
        write_jsonl(rows, path)
        file_bytes = path.stat().st_size
        data = copy_text(rows)
        applies, copies, reapplies = [], [], []
        for _ in range(repeats):
            url = fresh_database(new_db)
            seconds, result = time_apply(url, path)
            assert result["written"] == rows_count, result
            applies.append(seconds)
            seconds, result = time_apply(url, path)
            assert result["written"] == 0, result
            reapplies.append(seconds)
            copies.append(time_copy(fresh_database(new_db), data))
    apply_s, copy_s, reapply_s = (statistics.median(x) for x in (applies, copies, reapplies))
    return {
        "rows": rows_count,
        "repeats": repeats,
        "file_bytes": file_bytes,
        "apply_seconds": round(apply_s, 3),
        "apply_rows_per_second": round(rows_count / apply_s),
        "copy_seconds": round(copy_s, 3),
        "copy_rows_per_second": round(rows_count / copy_s),
        "apply_to_copy_ratio": round(apply_s / copy_s, 2),
        "reapply_unchanged_seconds": round(reapply_s, 3),
        "reapply_rows_per_second": round(rows_count / reapply_s),
        "runs": {"apply": applies, "copy": copies, "reapply": reapplies},
    }


def run_audit(rows_count: int, database_url: str | None = None) -> dict[str, Any]:
    from clients.artifact import ArtifactClient
    from clients.edges.audit import PRESENCE_PAGE, audit_edges
    from clients.ic import Connection, generate_ed25519
    from emulator.process import DEFAULT_ID, EmulatorProcess

    rows = make_rows(rows_count)
    ids = sorted({r[0] for r in rows})
    with tempfile.TemporaryDirectory() as tmp, database_factory(database_url) as new_db:
        path = Path(tmp) / "edges.jsonl"
        write_jsonl(rows, path)
        url = fresh_database(new_db)
        time_apply(url, path)
        emulator = EmulatorProcess(
            Path(tmp) / "state", canisters=[f"artifact={DEFAULT_ID}"], extra_args=["--quiet"]
        )
        emulator.start()
        try:
            client = ArtifactClient(Connection(emulator.url, generate_ed25519()), DEFAULT_ID)
            list(client.iter_memory_presence(ids[:PRESENCE_PAGE], PRESENCE_PAGE))  # warm: root key, pool
            started = time.perf_counter()
            for i in range(0, len(ids), PRESENCE_PAGE):
                list(client.iter_memory_presence(ids[i : i + PRESENCE_PAGE], PRESENCE_PAGE))
            presence_s = time.perf_counter() - started
            with psycopg.connect(url, autocommit=True) as conn:
                started = time.perf_counter()
                report = audit_edges(conn, client, canister_id=DEFAULT_ID)
                audit_s = time.perf_counter() - started
                assert report.counts["present_in_table_absent_on_canister"] == rows_count, report.counts
                started = time.perf_counter()
                fixed = audit_edges(conn, client, canister_id=DEFAULT_ID, fix=True)
                fix_s = time.perf_counter() - started
                assert fixed.fixed is not None and fixed.fixed["updated"] == rows_count
        finally:
            emulator.stop()
    return {
        "edges": rows_count,
        "memories": len(ids),
        "presence_pages": (len(ids) + PRESENCE_PAGE - 1) // PRESENCE_PAGE,
        "presence_only_seconds": round(presence_s, 2),
        "audit_seconds": round(audit_s, 2),
        "audit_to_presence_ratio": round(audit_s / presence_s, 2),
        "audit_and_fix_seconds": round(fix_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="a server to create scratch databases on")
    parser.add_argument("--json", default=None, help="write the figures here too")
    parser.add_argument("--audit", action="store_true", help="also time edges audit (and --fix) of the rows")
    args = parser.parse_args()
    figures = run(args.rows, args.repeats, args.database_url)
    if args.audit:
        figures["audit"] = run_audit(args.rows, args.database_url)
    text = json.dumps({k: v for k, v in figures.items() if k != "runs"}, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
