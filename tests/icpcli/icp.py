"""The real icp-cli binary (`@icp-sdk/icp-cli-linux-x64`, pinned in tests/node/package-lock.json).

Each `IcpCli` has its own HOME, so identities (stored with `--storage plaintext`: CI machines have no
keyring) and icp-cli's settings never touch the developer's. A missing binary skips locally and fails
under CI=true, where `scripts/setup.sh --node` installs it.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.system_deps import missing

NODE_MODULES = Path(__file__).resolve().parents[1] / "node" / "node_modules"
PACKAGE = "@icp-sdk/icp-cli-linux-x64"
PINNED_VERSION = "1.5.0"


def find_icp() -> Path:
    """The binary inside node_modules, or skip/fail saying how to install it."""
    binary = NODE_MODULES / PACKAGE / "bin" / "icp"
    if not os.access(binary, os.X_OK):
        missing(f"{binary} not found: run `npm ci --prefix tests/node` (bash scripts/setup.sh --node)")
    return binary


@dataclass
class IcpCli:
    binary: Path
    home: Path
    default_timeout: float = 120.0
    env_extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("ICP_")}
        return base | {"HOME": str(self.home), "NO_COLOR": "1", **self.env_extra}

    def run(
        self, *args: str, check: bool = True, cwd: Path | None = None, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `icp ARGS`; `check` asserts exit status 0 and shows stderr when it is not."""
        result = subprocess.run(
            [str(self.binary), *args],
            env=self.env(),
            cwd=cwd or self.home,
            capture_output=True,
            text=True,
            timeout=timeout or self.default_timeout,  # a hang guard, not a timing assertion
        )
        if check:
            assert result.returncode == 0, f"icp {' '.join(args)} failed:\n{result.stderr[-4000:]}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def new_identity(self, name: str) -> str:
        """A plaintext identity; returns its principal."""
        self.run("identity", "new", name, "--storage", "plaintext")
        return self.run("identity", "principal", "--identity", name).stdout.strip()

    def export_pem(self, name: str, path: Path) -> Path:
        path.write_text(self.run("identity", "export", name).stdout)
        path.chmod(0o600)
        return path
