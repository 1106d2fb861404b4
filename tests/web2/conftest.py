"""A throw-away PostgreSQL cluster per test session and a fresh database per test (never a mock).

The cluster (``clients.edges.devcluster``) comes from Debian's ``postgresql`` package (``scripts/setup.sh
--system``); without it the tests skip locally and fail under CI=true (tests/system_deps.py). It is
stopped at the end of the session whatever happened.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from clients.edges.devcluster import Cluster, ClusterUnavailable, throwaway_cluster
from clients.edges.schema import DEV_FIXTURE_SQL
from tests.system_deps import missing

__all__ = ["Cluster"]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    try:
        cluster_context = throwaway_cluster()
        cluster = cluster_context.__enter__()
    except ClusterUnavailable as exc:
        missing(str(exc))
        raise
    try:
        yield cluster
    finally:
        cluster_context.__exit__(None, None, None)


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
