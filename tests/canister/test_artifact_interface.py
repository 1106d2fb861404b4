"""The published interface: `artifact.did` against the deployed canister's wire types.

The golden vectors record, per method, the type agent-js used when talking to the deployed canister
(`signature`). Both that signature and our `.did` are parsed by an independent Candid parser (the
Rust one shipped with icp-py-core) and compared structurally, so a renamed field, a variant tag, a
nat width or a lost `opt` fails here, not in a generated client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.candid import decode_args, parse_did
from emulator.canisters.artifact import ArtifactCanister
from tests.vectors import contract_candid

rust_parser = pytest.importorskip("_ic_candid_core._ic_candid_core")

VECTORS = contract_candid()["methods"]
DID_PATH = Path(__file__).resolve().parents[2] / "contract" / "artifact.did"

# Methods of the contract (sections 2.2, 2.3) with their modes.
CONTRACT_METHODS = {
    "whoami": "query",
    "get_api_version": "query",
    "register": "update",
    "register_capsule": "update",
    "get_user": "query",
    "store_gallery_forever": "update",
    "get_gallery_by_id": "query",
    "get_my_galleries": "query",
    "get_user_galleries": "query",
    "update_gallery": "update",
    "delete_gallery": "update",
    "add_memory_to_capsule": "update",
    "get_memory_from_capsule": "query",
    "upsert_metadata": "update",
    "get_memory_presence_icp": "query",
    "get_memory_list_presence_icp": "query",
    "begin_asset_upload": "update",
    "put_chunk": "update",
    "commit_asset": "update",
    "cancel_upload": "update",
    "get_upload_progress": "query",
    "get_user_upload_sessions": "query",
    "__get_candid_interface_tmp_hack": "query",
}


def _canon(node: Any, env: dict[str, Any], stack: tuple[str, ...] = ()) -> Any:
    """A structural, name-free form of a parsed type (record/variant fields sorted)."""
    kind = node["type"]
    if kind == "Principal":
        return "principal"
    value = node["value"]
    if kind == "Prim":
        return value
    if kind in ("Opt", "Vec"):
        return (kind.lower(), _canon(value, env, stack))
    if kind in ("Record", "Variant"):
        return (kind.lower(), tuple(sorted((k, _canon(t, env, stack)) for k, t in value)))
    if kind == "Id":
        if value in stack:
            return ("rec", value)
        return _canon(env[value], env, (*stack, value))
    raise AssertionError(f"unexpected type node {kind}")


def _methods(did_text: str) -> dict[str, tuple[Any, Any, str]]:
    ast = json.loads(rust_parser.parse_did(did_text))
    env = {entry["name"]: entry["datatype"] for entry in ast["env"]}
    out = {}
    for method in ast["actor"]["methods"]:
        args = tuple(_canon(t, env) for t in method["args"])
        rets = tuple(_canon(t, env) for t in method["rets"])
        out[method["name"]] = (args, rets, "query" if "query" in method["modes"] else "update")
    return out


OURS = _methods(ArtifactCanister.CANDID)


def test_candid_is_read_from_the_packaged_did_file() -> None:
    assert DID_PATH.read_text() == ArtifactCanister.CANDID


def test_the_service_has_exactly_the_contract_methods_with_their_modes() -> None:
    assert {name: mode for name, (_, _, mode) in OURS.items()} == CONTRACT_METHODS
    exported = ArtifactCanister.exported_methods()
    assert {name: mode for name, (mode, _) in exported.items()} == CONTRACT_METHODS


@pytest.mark.parametrize("method", sorted(VECTORS))
def test_method_types_match_the_deployed_canister(method: str) -> None:
    signature = VECTORS[method]["signature"].replace("→", "->").strip()
    theirs = _methods(f"service : {{ {method} : {signature} }}")[method]
    assert OURS[method] == theirs


@pytest.mark.parametrize("method", sorted(VECTORS))
def test_golden_arguments_and_replies_decode_at_our_types(method: str) -> None:
    func = parse_did(ArtifactCanister.CANDID).service[method]
    vector = VECTORS[method]
    args = decode_args(bytes.fromhex(vector["args_hex"]), func.args)
    assert len(args) == len(vector["args_value"])
    replies = decode_args(bytes.fromhex(vector["reply_hex"]), func.results)
    assert len(replies) == len(vector["reply_value"])


def test_declared_type_names_follow_the_deployed_did() -> None:
    ast = json.loads(rust_parser.parse_did(ArtifactCanister.CANDID))
    names = {entry["name"] for entry in ast["env"]}
    assert {"ICPResult", *(f"ICPResult_{i}" for i in range(1, 7))} <= names
    assert {"ICPErrorCode", "MemoryType", "UploadSession", "Gallery", "Memory", "MemoryAccess"} <= names
