"""Fixtures for the artifact canister's unit tests (see `artifact_harness`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.canister.artifact_harness import Harness


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.store.close()
