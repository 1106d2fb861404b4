"""Root and node keys kept in the state directory, so a restart serves the same `root_key`.

Agents fetch the root key once per agent and cache node keys for minutes; a key that changed on
restart would make every long-lived dev server fail its certificate checks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from emulator.protocol.certificate import RootKey
from emulator.protocol.node_key import NodeKey

KEYS_FILE = "replica-keys.json"


def load_or_create_keys(state_dir: Path) -> tuple[RootKey, NodeKey]:
    path = state_dir / KEYS_FILE
    if path.exists():
        data = json.loads(path.read_text())
        return RootKey(bytes.fromhex(data["root_secret"])), NodeKey(bytes.fromhex(data["node_seed"]))
    root, node = RootKey.generate(), NodeKey.generate()
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"root_secret": root.secret.hex(), "node_seed": node.seed.hex()}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return root, node
