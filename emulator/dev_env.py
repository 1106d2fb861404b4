"""The variables a web app reads to reach the emulator, written by `storeforever emulator --write-env`.

A Next.js or Vite app built against `dfx deploy` reads `CANISTER_ID_<NAME>` and `DFX_NETWORK`; one built
with icp-cli reads the `PUBLIC_CANISTER_ID:<name>` canister environment variables and runs `icp` with
`ICP_NETWORK`. The file holds both spellings plus the host under the prefixes the two bundlers expose to
browser code, so the app's own tests run unchanged against the emulator.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# The name an app's project gives each canister kind (the artifact canister is the gallery app's backend).
CANISTER_NAMES: Mapping[str, str] = {"artifact": "backend"}


def canister_name(kind: str) -> str:
    """`backend` for the artifact canister, else the kind with separators made identifier-safe."""
    return CANISTER_NAMES.get(kind, kind.replace(":", "_").replace(".", "_").replace("-", "_"))


def variables(url: str, admin_url: str, root_key_der: bytes, canisters: Mapping[str, str]) -> dict[str, str]:
    """`canisters` maps kind to canister id text.

    IC_ROOT_KEY is the DER root key in hex, what icp.yaml's `root-key:` and `icp -k` take instead of
    `fetch`; the emulator keeps it in its state directory, so it stays valid across restarts.
    """
    env = {
        "DFX_NETWORK": "local",
        "IC_ROOT_KEY": root_key_der.hex(),
        "ICP_NETWORK": url,
        "IC_HOST": url,
        "NEXT_PUBLIC_IC_HOST": url,
        "VITE_IC_HOST": url,
        "STOREFOREVER_ADMIN_URL": admin_url,
    }
    for kind, canister_id in canisters.items():
        name = canister_name(kind)
        upper = name.upper()
        env[f"CANISTER_ID_{upper}"] = canister_id
        env[f"NEXT_PUBLIC_CANISTER_ID_{upper}"] = canister_id
        env[f"VITE_CANISTER_ID_{upper}"] = canister_id
        env[f"PUBLIC_CANISTER_ID:{name}"] = canister_id
    return env


def write(path: Path, env: Mapping[str, str]) -> None:
    """Atomically: a reader polling for the file never sees half of it."""
    lines = ["# written by `storeforever emulator --write-env` once the emulator was ready"]
    lines += [f"{name}={value}" for name, value in env.items()]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
