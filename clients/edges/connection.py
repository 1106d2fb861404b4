"""Connecting to the app's database, with every psycopg failure turned into one clear ``EdgeError``.

Why a translation layer: a libpq connection error is several lines of text, a missing table is an
``UndefinedTable`` with a traceback through our batching code, and an enum mismatch surfaces as
``InvalidTextRepresentation`` in the middle of a COPY. Users need one sentence and the right exit
code; ``database_errors`` gives both wherever a command touches the database.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import psycopg
from psycopg import errors as pg_errors

from .errors import EdgeError, EdgeInputError, EdgeSchemaError, EdgeUnavailableError

__all__ = ["connect", "database_errors", "redact"]

_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return _PASSWORD.sub(r"\1***@", url)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Re-raise psycopg errors met while doing ``what`` as EdgeErrors with one-line messages."""
    try:
        yield
    except EdgeError:
        raise
    except (pg_errors.UndefinedTable, pg_errors.UndefinedColumn, pg_errors.UndefinedObject) as exc:
        raise EdgeSchemaError(
            f"{what}: {_first_line(exc)} (the database lacks the app's storage-edge schema)"
        ) from exc
    except (pg_errors.InvalidTextRepresentation, pg_errors.InvalidParameterValue) as exc:
        raise EdgeSchemaError(f"{what}: {_first_line(exc)} (an enum or column type does not match)") from exc
    except pg_errors.InsufficientPrivilege as exc:
        raise EdgeSchemaError(f"{what}: {_first_line(exc)}") from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise EdgeUnavailableError(f"{what}: the database connection failed: {_first_line(exc)}") from exc
    except psycopg.DataError as exc:
        raise EdgeInputError(f"{what}: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise EdgeError(f"{what}: {_first_line(exc)}") from exc


def connect(url: str, *, application_name: str = "storeforever", timeout: float = 10.0) -> psycopg.Connection:
    """An autocommit connection (transactions are explicit); EdgeUnavailableError when unreachable."""
    if not url.startswith(("postgresql://", "postgres://")) and "=" not in url:
        raise EdgeInputError(
            f"--database-url must be a postgresql:// URL or a libpq conninfo, got {url!r:.80}"
        )
    try:
        return psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, int(timeout)), application_name=application_name
        )
    except psycopg.ProgrammingError as exc:  # a malformed conninfo
        raise EdgeInputError(f"invalid --database-url {redact(url)}: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise EdgeUnavailableError(f"cannot connect to {redact(url)}: {_first_line(exc)}") from exc
