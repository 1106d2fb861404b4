"""Failures of the database side, each carrying the CLI exit code of the project's scheme.

Why codes live on the exception: the CLI maps every failure to ``EXIT_CODES_HELP`` (2 fix your input,
3 will keep failing, 4 try again later) and the database adds no new meaning, only new causes: a bad
JSON line is a usage error, a missing table or an enum without our labels will not fix itself, and a
refused connection may.
"""

from __future__ import annotations

__all__ = ["EdgeError", "EdgeInputError", "EdgeSchemaError", "EdgeUnavailableError"]


class EdgeError(Exception):
    """Base: one sentence for the user, no traceback."""

    exit_code = 3
    category = "permanent"


class EdgeInputError(EdgeError):
    """An edge file or argument is malformed (exit 2); ``line`` is the 1-based line number if any."""

    exit_code = 2
    category = "usage"

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


class EdgeSchemaError(EdgeError):
    """The database lacks the app's tables, views or enum labels the tool relies on (exit 3)."""


class EdgeUnavailableError(EdgeError):
    """The database cannot be reached or dropped the connection (exit 4: try again later)."""

    exit_code = 4
    category = "retryable"
