"""Fixtures for the connection-layer tests; the helpers themselves live in ``ic_testkit``."""

from __future__ import annotations

import pytest

from tests.clients.ic_testkit import FakeTarget


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()
