"""The committed vector copies equal `../shared/vectors/` (skipped where `../shared` is absent)."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED
from tests.vectors import CONTRACT_CANDID_PATH, IC_HTTP_PATH


@pytest.mark.parametrize("copy", [IC_HTTP_PATH, CONTRACT_CANDID_PATH], ids=lambda p: p.name)
def test_copy_matches_shared(copy: object) -> None:
    original = SHARED / "vectors" / copy.name  # type: ignore[attr-defined]
    if not original.exists():
        pytest.skip(f"{original} not present")
    assert copy.read_bytes() == original.read_bytes()  # type: ignore[attr-defined]
