"""The gallery app's ``storage_edges`` table on PostgreSQL: written while a gallery is stored, audited after.

Modules: ``schema`` (the app's schema as a dev fixture and the check every command runs first),
``connection`` (connecting with one clear error), ``store`` (the SQL of requirement 12's
transitions), ``writer`` (batching those writes off the canister path during ``store-gallery``),
``apply`` (bulk upsert of edge JSON lines), ``audit`` (table versus canister presence, ``--fix``),
``commands`` (the ``storeforever edges`` subcommands). Nothing here imports psycopg at package
import time, so the client CLI pays for it only when a database is used.
"""

from .errors import EdgeError, EdgeInputError, EdgeSchemaError, EdgeUnavailableError

__all__ = ["EdgeError", "EdgeInputError", "EdgeSchemaError", "EdgeUnavailableError"]
