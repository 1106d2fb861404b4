"""icp-cli against a real emulator process whose canisters `alice` controls (via her exported PEM)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.emulator_process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess
from tests.icpcli.icp import IcpCli, find_icp


@dataclass
class Network:
    """The emulator as icp-cli addresses it by URL, with the identities the tests use."""

    icp: IcpCli
    emulator: EmulatorProcess
    alice: str
    bob: str

    @property
    def flags(self) -> list[str]:
        return ["-n", self.emulator.url, "-k", "fetch"]

    def run(self, *args: str, identity: str = "alice", check: bool = True) -> str:
        result = self.icp.run(*args, *self.flags, "--identity", identity, check=check)
        return result.stdout if check else result.stdout + result.stderr

    def fails(self, *args: str, identity: str = "alice") -> str:
        result = self.icp.run(*args, *self.flags, "--identity", identity, check=False)
        assert result.returncode != 0, f"icp {' '.join(args)} unexpectedly succeeded:\n{result.stdout}"
        return result.stderr


@pytest.fixture(scope="module")
def icp(tmp_path_factory: pytest.TempPathFactory) -> IcpCli:
    home = tmp_path_factory.mktemp("icp-home")
    return IcpCli(find_icp(), home)


@pytest.fixture(scope="module")
def network(icp: IcpCli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    alice = icp.new_identity("alice")
    bob = icp.new_identity("bob")
    pem = icp.export_pem("alice", tmp_path_factory.mktemp("pem") / "alice.pem")
    proc = EmulatorProcess(
        tmp_path_factory.mktemp("icp-emu") / "state",
        canisters=[f"artifact={DEFAULT_ID}", f"example={EXAMPLE_ID}"],
        extra_args=["--controller", str(pem)],
    )
    proc.start()
    yield Network(icp, proc, alice, bob)
    proc.stop()
