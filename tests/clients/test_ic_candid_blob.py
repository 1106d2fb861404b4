"""The client's trailing-blob encoding gives exactly icp-py-core's ``encode`` bytes (see ``candid.py``)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from icp_candid import Types, encode

from clients.ic.candid import encode_args

BLOB = Types.Vec(Types.Nat8)


def reference(arg_types: list[Any], args: list[Any]) -> bytes:
    return bytes(encode([{"type": t, "value": v} for t, v in zip(arg_types, args, strict=True)]))


@pytest.mark.parametrize("size", [0, 1, 127, 128, 4095, 4096, 16_384, 65_535, 1_048_576, 2_000_000])
def test_put_chunk_arguments_encode_as_icp_py_core_does(size: int) -> None:
    arg_types = [Types.Text, Types.Nat32, BLOB]
    args: list[Any] = ["session-7", 3, os.urandom(size)]
    assert encode_args(arg_types, args) == reference(arg_types, args)


@pytest.mark.parametrize(
    ("arg_types", "head"),
    [
        ([BLOB], []),
        ([Types.Nat, BLOB], [2**70]),
        ([Types.Opt(Types.Text), Types.Vec(Types.Text), BLOB], [["x"], ["a", "b"]]),
        ([BLOB, BLOB], [b"first blob" * 1000]),
        ([Types.Record({"a": Types.Nat8, "b": BLOB}), BLOB], [{"a": 1, "b": b"in a record"}]),
    ],
)
def test_other_argument_lists_ending_in_a_blob(arg_types: list[Any], head: list[Any]) -> None:
    for blob in (os.urandom(5000), bytearray(os.urandom(70_000))):
        args = [*head, blob]
        assert encode_args(arg_types, args) == reference(arg_types, args)


def test_a_blob_that_is_not_last_or_not_bytes_takes_the_general_path() -> None:
    arg_types = [BLOB, Types.Nat32]
    args: list[Any] = [os.urandom(10_000), 5]
    assert encode_args(arg_types, args) == reference(arg_types, args)
    with pytest.raises(TypeError, match="not a valid Candid"):
        encode_args([Types.Text, BLOB], ["x", "not bytes" * 1000])
