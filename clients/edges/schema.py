"""The gallery app's schema, shipped as a development fixture, and the check every command runs first.

``APP_SCHEMA_SQL`` is the feature design document's SQL verbatim (issue 15): the tool writes to the
app's table as the app has it, so the fixture must not "improve" it. ``galleries`` and
``gallery_items`` belong to the app; the fixture creates the smallest version the view needs (plus an
index on ``gallery_items.memory_id`` so the audit's gallery scope is not a sequential scan). This is
never a migration: ``init_dev`` refuses a database where any of these objects already exist with a
different shape.

``check_schema`` is what turns "relation does not exist" or "invalid input value for enum" deep in a
batch into one sentence before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from .errors import EdgeSchemaError

__all__ = [
    "APP_SCHEMA_SQL",
    "ARTIFACTS",
    "BACKENDS",
    "DEV_FIXTURE_SQL",
    "ICP_BACKEND",
    "MEMORY_TYPES",
    "InitResult",
    "check_schema",
    "init_dev",
    "seed_gallery",
]

ICP_BACKEND = "icp-canister"
ARTIFACTS = ("metadata", "asset")
BACKENDS = ("neon-db", "vercel-blob", "icp-canister")
# The app's memory types as its API spells them (seed task 2.1: ``?type=image|video|note|document|audio``);
# the canister's ``MemoryType`` variants are the same words capitalised.
MEMORY_TYPES = ("image", "video", "audio", "document", "note")

APP_TABLES_SQL = """\
CREATE TABLE galleries (
  id UUID PRIMARY KEY,
  owner_id TEXT NOT NULL,
  title TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ DEFAULT now());
CREATE TABLE gallery_items (
  gallery_id UUID NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
  memory_id UUID NOT NULL,
  position INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (gallery_id, memory_id));
CREATE INDEX gallery_items_memory_id ON gallery_items (memory_id);
"""

APP_SCHEMA_SQL = """\
CREATE TYPE artifact_t AS ENUM ('metadata', 'asset');
CREATE TYPE backend_t AS ENUM ('neon-db', 'vercel-blob', 'icp-canister');
CREATE TABLE storage_edges (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  memory_id UUID NOT NULL, memory_type TEXT NOT NULL,
  artifact artifact_t NOT NULL, backend backend_t NOT NULL,
  present BOOLEAN NOT NULL DEFAULT false,
  sync_state TEXT NOT NULL DEFAULT 'idle',          -- 'idle' | 'migrating' | 'failed'
  sync_error TEXT, location TEXT, content_hash TEXT,
  last_synced_at TIMESTAMPTZ, created_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now(),
  UNIQUE (memory_id, memory_type, artifact, backend));
CREATE VIEW memory_presence AS SELECT e.memory_id, e.memory_type,
  BOOL_OR(e.backend = 'neon-db' AND e.artifact = 'metadata' AND e.present) AS meta_web2,
  BOOL_OR(e.backend = 'neon-db' AND e.artifact = 'asset' AND e.present) AS asset_web2,
  BOOL_OR(e.backend = 'icp-canister' AND e.artifact = 'metadata' AND e.present) AS meta_icp,
  BOOL_OR(e.backend = 'icp-canister' AND e.artifact = 'asset' AND e.present) AS asset_icp
  FROM storage_edges e GROUP BY e.memory_id, e.memory_type;
CREATE MATERIALIZED VIEW gallery_presence AS SELECT g.id AS gallery_id, g.owner_id,
  COUNT(gi.memory_id) AS memory_count,
  COUNT(CASE WHEN mp.meta_icp AND mp.asset_icp THEN 1 END) AS icp_memory_count,
  BOOL_AND(mp.meta_icp AND mp.asset_icp) AS icp_complete,
  COUNT(CASE WHEN mp.meta_icp OR mp.asset_icp THEN 1 END) > 0 AS partial_icp
  FROM galleries g LEFT JOIN gallery_items gi ON g.id = gi.gallery_id
  LEFT JOIN memory_presence mp ON gi.memory_id = mp.memory_id GROUP BY g.id, g.owner_id;
"""

DEV_FIXTURE_SQL = APP_TABLES_SQL + APP_SCHEMA_SQL

# What the tool reads and writes, by column: (data type, udt name). Extra columns the app may add are
# fine; a missing one or another type is not.
_EDGE_COLUMNS = {
    "id": "uuid",
    "memory_id": "uuid",
    "memory_type": "text",
    "artifact": "artifact_t",
    "backend": "backend_t",
    "present": "bool",
    "sync_state": "text",
    "sync_error": "text",
    "location": "text",
    "content_hash": "text",
    "last_synced_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
_GALLERY_COLUMNS = {"id": "uuid", "owner_id": "text"}
_ITEM_COLUMNS = {"gallery_id": "uuid", "memory_id": "uuid"}
_ENUMS = {"artifact_t": ARTIFACTS, "backend_t": BACKENDS}
_RELATIONS = {
    "storage_edges": "r",
    "galleries": "r",
    "gallery_items": "r",
    "memory_presence": "v",
    "gallery_presence": "m",
}


def _columns(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, udt_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    return {str(name): str(udt) for name, udt in rows}


def _relations(conn: psycopg.Connection) -> dict[str, str]:
    rows = conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ANY(%s)",
        (list(_RELATIONS),),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _enum_labels(conn: psycopg.Connection) -> dict[str, tuple[str, ...]]:
    rows = conn.execute(
        "SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_type t "
        "JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = current_schema() AND t.typname = ANY(%s) GROUP BY t.typname",
        (list(_ENUMS),),
    ).fetchall()
    return {str(name): tuple(labels) for name, labels in rows}


def _has_edge_key(conn: psycopg.Connection) -> bool:
    """The upserts' ``ON CONFLICT (memory_id, memory_type, artifact, backend)`` needs this unique key."""
    row = conn.execute(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = 'storage_edges' AND i.indisunique "
        "AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a "
        "     WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey)) "
        "    = ARRAY['artifact', 'backend', 'memory_id', 'memory_type']"
    ).fetchone()
    return row is not None


def _problems(conn: psycopg.Connection, *, need_galleries: bool) -> list[str]:
    problems: list[str] = []
    relations = _relations(conn)
    wanted = dict(_RELATIONS)
    if not need_galleries:
        for name in ("galleries", "gallery_items", "gallery_presence"):
            wanted.pop(name)
    kinds = {"r": "table", "v": "view", "m": "materialized view"}
    for name, kind in wanted.items():
        if name not in relations:
            problems.append(f"{kinds[kind]} {name} does not exist")
        elif relations[name] != kind:
            problems.append(f"{name} is not a {kinds[kind]}")
    enums = _enum_labels(conn)
    for name, labels in _ENUMS.items():
        have = enums.get(name)
        if have is None:
            problems.append(f"enum type {name} does not exist")
        elif not set(labels) <= set(have):
            missing = ", ".join(sorted(set(labels) - set(have)))
            problems.append(f"enum {name} lacks the label(s) {missing} (it has {', '.join(have)})")
    checks = [("storage_edges", _EDGE_COLUMNS)]
    if need_galleries:
        checks += [("galleries", _GALLERY_COLUMNS), ("gallery_items", _ITEM_COLUMNS)]
    for table, columns in checks:
        if relations.get(table) != "r":
            continue
        have_cols = _columns(conn, table)
        for column, udt in columns.items():
            if column not in have_cols:
                problems.append(f"{table}.{column} does not exist")
            elif have_cols[column] != udt:
                problems.append(f"{table}.{column} is {have_cols[column]}, expected {udt}")
    if relations.get("storage_edges") == "r" and not _has_edge_key(conn):
        problems.append("storage_edges has no UNIQUE (memory_id, memory_type, artifact, backend)")
    return problems


def check_schema(conn: psycopg.Connection, *, need_galleries: bool = True) -> None:
    """Raise ``EdgeSchemaError`` listing everything that differs from what the tool relies on."""
    problems = _problems(conn, need_galleries=need_galleries)
    if problems:
        schema = conn.execute("SELECT current_database(), current_schema()").fetchone()
        where = f"database {schema[0]}, schema {schema[1]}" if schema else "this database"
        raise EdgeSchemaError(
            f"{where} does not have the gallery app's storage-edge schema: "
            + "; ".join(problems)
            + " (a development database can get it with `storeforever edges init-dev`)"
        )


@dataclass(frozen=True, slots=True)
class InitResult:
    created: bool
    message: str


def init_dev(conn: psycopg.Connection) -> InitResult:
    """Create the fixture on an empty database; accept one that already has it exactly; refuse the rest.

    Why refuse a partial match: this is a fixture, not a migration. A database holding some of the
    app's objects is somebody's app database (or a broken one), and adding the rest could change it.
    """
    present = _relations(conn)
    enums = _enum_labels(conn)
    if not present and not enums:
        with conn.transaction():
            conn.execute(DEV_FIXTURE_SQL.encode())
        return InitResult(True, "created galleries, gallery_items, storage_edges and both presence views")
    problems = _problems(conn, need_galleries=True)
    for name, labels in _ENUMS.items():
        if name in enums and enums[name] != labels:
            problems.append(
                f"enum {name} is ({', '.join(enums[name])}), the fixture's is ({', '.join(labels)})"
            )
    if problems:
        raise EdgeSchemaError(
            "refusing to initialise: the database already has some of the app's objects in another shape ("
            + "; ".join(problems)
            + "); init-dev only sets up an empty development database"
        )
    return InitResult(False, "the database already has the app's schema; nothing changed")


def seed_gallery(
    conn: psycopg.Connection, gallery_id: str, owner_id: str, title: str, memory_ids: list[str]
) -> int:
    """Insert a gallery and its items as the app would have them (development databases only).

    Returns the number of items added; existing rows are left as they are, so seeding twice is safe.
    """
    with conn.transaction():
        conn.execute(
            "INSERT INTO galleries (id, owner_id, title) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING",
            (gallery_id, owner_id, title),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO gallery_items (gallery_id, memory_id, position) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(gallery_id, mid, i) for i, mid in enumerate(memory_ids)],
            )
            added = cur.rowcount
    return max(added, 0)
