"""The GalleryStorer's Web2 side: its galleries' ``storage_edges`` rows, written as ``store-gallery`` does.

Why: "nothing lost" must hold in the app's table too. With ``write_edges = true`` in the profile's
``[loadtest.users.GalleryStorer]`` and ``--database-url`` on the locust command line, each storer
plays the app: it inserts the gallery and its items (``galleries``/``gallery_items``, owner_id = its
principal, as the app would have them before "Store Forever") and stores the gallery with the same
edge writer the CLI uses (``clients.edges.writer``). Its key is saved to ``--edges-identity-dir`` as
``<principal>.pem``, because presence answers only for the caller's own memories: after the run,
``storeforever edges audit --identity DIR/<principal>.pem --owner <principal>`` checks each storer's
galleries against the canister (tests/loadtests/test_edges_loadtest.py does exactly that).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locust.env import Environment
from locust.exception import LocustError

from clients.artifact.manifest import Manifest
from clients.ic import save_pem

__all__ = ["EdgeTarget", "edge_target_for"]


@dataclass(frozen=True, slots=True)
class EdgeTarget:
    database_url: str
    identity_dir: Path

    def register(self, principal: str, identity: Any) -> None:
        save_pem(identity, self.identity_dir / f"{principal}.pem")

    def seed(self, manifest: Manifest, owner: str) -> None:
        """The app's rows for the gallery (what exists before the user presses "Store Forever")."""
        from clients.edges.connection import connect, database_errors
        from clients.edges.schema import seed_gallery

        with contextlib.closing(connect(self.database_url)) as conn, database_errors("seeding a gallery"):
            seed_gallery(
                conn, manifest.gallery.id, owner, manifest.gallery.title, [m.id for m in manifest.memories]
            )

    def writer(self, manifest: Manifest, canister_id: str) -> Any:
        from clients.edges.writer import EdgeWriter

        return EdgeWriter(self.database_url, manifest, location=f"icp://{canister_id}")


def edge_target_for(environment: Environment) -> EdgeTarget:
    """The database and key directory from the locust options; a LocustError naming what is missing."""
    options = environment.parsed_options
    url = getattr(options, "database_url", "") if options is not None else ""
    directory = getattr(options, "edges_identity_dir", "") if options is not None else ""
    if not url or not directory:
        raise LocustError(
            "users.GalleryStorer.write_edges needs --database-url (the app's PostgreSQL) and "
            "--edges-identity-dir (where each storer keeps its key for the audit)"
        )
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return EdgeTarget(url, path)
