"""icp-cli 1.5.0, the current DFINITY CLI, against a real emulator: the commands an engineer uses daily.

Each test runs the real binary with its own HOME and plaintext identities; `alice` controls the hosted
canisters (the emulator was started with `--controller alice.pem`), `bob` and `carol` do not unless a
test makes them.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path

from emulator.canisters.artifact import ArtifactCanister
from tests.emulator_process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess
from tests.icpcli.conftest import Network
from tests.icpcli.icp import PINNED_VERSION, IcpCli

ARTIFACT = DEFAULT_ID


def candid_blob(data: bytes) -> str:
    return 'blob "' + "".join(f"\\{b:02x}" for b in data) + '"'


def call_json(network: Network, method: str, args: str, *extra: str, canister: str = ARTIFACT) -> str:
    """`icp canister call … --json`; returns the reply in Candid text."""
    out = network.run("canister", "call", canister, method, args, "--json", *extra)
    return str(json.loads(out)["response_candid"])


def upload(network: Network, tmp_path: Path, data: bytes, chunk: int) -> str:
    """begin / put_chunk (each chunk through --args-file) / commit; returns the memory id."""
    memory_id = str(uuid.uuid4())
    parts = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    digest = hashlib.sha256(data).hexdigest()
    begun = call_json(
        network, "begin_asset_upload", f'("{memory_id}", "{digest}", {len(parts)}, {len(data)})'
    )
    session = re.search(r'session_id = "([^"]+)"', begun)
    assert session is not None, begun
    for index, part in enumerate(parts):
        args_file = tmp_path / f"chunk-{index}.txt"
        args_file.write_text(f'("{session.group(1)}", {index}, {candid_blob(part)})')
        put = network.run("canister", "call", ARTIFACT, "put_chunk", "--args-file", str(args_file), "--json")
        assert "success = true" in json.loads(put)["response_candid"]
    committed = call_json(network, "commit_asset", f'("{session.group(1)}", "{digest}")')
    assert "success = true" in committed, committed
    assert re.search(r"total_bytes = ([\d_]+)", committed).group(1).replace("_", "") == str(len(data))  # type: ignore[union-attr]
    return memory_id


def present(network: Network, memory_id: str) -> bool:
    reply = call_json(network, "get_memory_presence_icp", f'("{memory_id}")', "--query")
    return "asset_present = true" in reply


def test_the_pinned_version_runs(icp: IcpCli) -> None:
    assert icp.run("--version").stdout.strip() == f"icp {PINNED_VERSION}"


def test_network_ping(network: Network) -> None:
    out = network.icp.run("network", "ping", network.emulator.url).stdout
    assert '"replica_health_status": "healthy"' in out


def test_canister_call_query_update_and_an_error(network: Network) -> None:
    version = call_json(network, "get_api_version", "()", "--query")
    assert version.startswith('("') and version.endswith('")')
    registered = call_json(network, "register_capsule", "()")
    assert "success = true" in registered
    wrong = network.fails("canister", "call", ARTIFACT, "no_such_method", "()")
    assert "no_such_method" in wrong
    trapped = network.fails("canister", "call", EXAMPLE_ID, "fail", '("deliberate")')
    assert "Canister called `ic0.trap` with message: 'deliberate'" in trapped


def test_multi_chunk_upload_with_args_file(network: Network, tmp_path: Path) -> None:
    data = bytes(range(256)) * 1200  # 307,200 bytes in 4 chunks
    memory_id = upload(network, tmp_path, data, 100_000)
    assert present(network, memory_id)


def test_status_and_settings_show_as_controller(network: Network) -> None:
    status = json.loads(network.run("canister", "status", EXAMPLE_ID, "--json"))
    assert status["status"] == "Running"
    assert network.alice in status["settings"]["controllers"]
    shown = network.run("canister", "settings", "show", EXAMPLE_ID)
    assert f"controller: {network.alice}" in shown and "Log visibility: Controllers" in shown


def test_settings_update_add_controller_then_remove(network: Network) -> None:
    network.run("canister", "settings", "update", EXAMPLE_ID, "--add-controller", network.bob)
    assert f"controller: {network.bob}" in network.run(
        "canister", "settings", "show", EXAMPLE_ID, identity="bob"
    )
    network.run("canister", "settings", "update", EXAMPLE_ID, "--remove-controller", network.bob)
    refused = network.fails("canister", "settings", "show", EXAMPLE_ID, identity="bob")
    assert "IC0512" in refused


def test_a_non_controller_is_refused_and_status_falls_back_to_the_public_view(network: Network) -> None:
    network.icp.new_identity("carol")
    for command in (["settings", "show"], ["stop"], ["snapshot", "list"]):
        refused = network.fails("canister", *command, EXAMPLE_ID, identity="carol")
        assert f"Only the controllers of the canister {EXAMPLE_ID} can control it." in refused
    public = network.run("canister", "status", EXAMPLE_ID, identity="carol")
    assert f"controller: {network.alice}" in public and "Module hash: 0x" in public
    assert "Status: Running" not in public  # only the public read_state view
    assert "Status: Running" in network.run("canister", "status", EXAMPLE_ID)


def test_stop_refuses_calls_and_start_resumes(network: Network) -> None:
    network.run("canister", "stop", EXAMPLE_ID)
    try:
        assert "Status: Stopped" in network.run("canister", "status", EXAMPLE_ID)
        refused = network.fails("canister", "call", EXAMPLE_ID, "inc", "()")
        assert f"Canister {EXAMPLE_ID} is stopped" in refused and "IC0508" in refused
    finally:
        network.run("canister", "start", EXAMPLE_ID)
    assert re.search(r"\(\d+ : nat64\)", network.run("canister", "call", EXAMPLE_ID, "inc", "()"))


def test_logs_after_some_calls(network: Network, tmp_path: Path) -> None:
    memory_id = upload(network, tmp_path, b"log me" * 1000, 4000)
    network.run("canister", "call", ARTIFACT, "put_chunk", f'("no-such-session", 0, {candid_blob(b"x")})')
    logs = json.loads(network.run("canister", "logs", ARTIFACT, "--json"))["log_records"]
    contents = [record["content"] for record in logs]
    assert any(line.startswith(f"upload begun: memory {memory_id}") for line in contents)
    assert any(line.startswith("upload committed: session") for line in contents)
    assert contents[-1].startswith("refused put_chunk on no-such-session: NotFound")
    indices = [record["index"] for record in logs]
    assert indices == sorted(indices)
    since = json.loads(network.run("canister", "logs", ARTIFACT, "--json", "--since-index", str(indices[-1])))
    assert [r["index"] for r in since["log_records"]] == [indices[-1]]
    refused = network.fails("canister", "logs", ARTIFACT, identity="bob")
    assert "is not allowed to query ic00 method fetch_canister_logs" in refused


def test_snapshot_create_list_restore_delete(network: Network, tmp_path: Path) -> None:
    before = upload(network, tmp_path, b"kept" * 500, 1000)
    network.run("canister", "stop", ARTIFACT)
    created = network.run("canister", "snapshot", "create", ARTIFACT)
    snapshot_id = re.search(r"Created snapshot ([0-9a-f]+)", created)
    assert snapshot_id is not None, created
    network.run("canister", "start", ARTIFACT)
    after = upload(network, tmp_path, b"gone" * 500, 1000)
    assert present(network, after)
    assert snapshot_id.group(1) in network.run("canister", "snapshot", "list", ARTIFACT)

    network.run("canister", "stop", ARTIFACT)
    try:
        network.run("canister", "snapshot", "restore", ARTIFACT, snapshot_id.group(1))
    finally:
        network.run("canister", "start", ARTIFACT)  # later tests need it running whatever happened
    assert present(network, before)
    assert not present(network, after)  # stored after the snapshot: absent again

    network.run("canister", "snapshot", "delete", ARTIFACT, snapshot_id.group(1))
    assert "No snapshots found" in network.run("canister", "snapshot", "list", ARTIFACT)


def test_metadata_candid_service(network: Network) -> None:
    served = network.run("canister", "metadata", ARTIFACT, "candid:service")
    assert served.strip() == ArtifactCanister.CANDID.strip()


def test_no_sync_call_is_not_for_icp_cli(icp: IcpCli, tmp_path: Path) -> None:
    """icp-cli 1.5.0 (ic-agent 0.49) sends updates only to /api/v4/…/call and does not fall back."""
    proc = EmulatorProcess(tmp_path / "state", extra_args=["--no-sync-call"])
    proc.start()
    try:
        flags = ["-n", proc.url, "-k", "fetch", "--identity", "alice"]
        assert (
            "Hello, icp!"
            in icp.run("canister", "call", EXAMPLE_ID, "greet", '("icp")', "--query", *flags).stdout
        )
        refused = icp.run("canister", "call", EXAMPLE_ID, "inc", "()", *flags, check=False)
        assert refused.returncode != 0 and "404 Not Found" in refused.stderr
    finally:
        proc.stop()


def test_canisters_the_emulator_does_not_host_are_reported_not_found(
    network: Network, tmp_path: Path
) -> None:
    did = tmp_path / "example.did"
    did.write_text("service : { greet : (text) -> (text) query; inc : () -> (nat64) }")
    outside = "rrkah-fqaaa-aaaaa-aaaaq-cai"  # no local subnet's range holds it
    refused = network.fails("canister", "call", outside, "greet", '("x")', "--query", "--candid", str(did))
    assert "canister_not_found" in refused and "Certificate is not authorized" not in refused
    unknown = "ufxgi-4p777-77774-qaadq-cai"  # inside the range, never created
    refused = network.fails("canister", "call", unknown, "inc", "()", "--candid", str(did))
    assert f"Canister {unknown} not found." in refused and "IC0301" in refused
    assert f"Canister {unknown} was not found." in network.fails("canister", "status", unknown)
