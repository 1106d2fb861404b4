"""§7 and requirement 24.1: timestamps are the canister clock in nanoseconds, and moving that clock
(the emulator's control) never breaks the protocol: certificates, query signatures and ingress expiry
stay on wall-clock time, so agents keep verifying replies."""

from __future__ import annotations

import pytest

from .calls import SuiteClient
from .kit import begin, new_id
from .target import Target

pytestmark = [pytest.mark.task("1"), pytest.mark.req("24.1"), pytest.mark.needs("clock")]

NS = 1_000_000_000


@pytest.mark.req("17.1")
@pytest.mark.method("begin_asset_upload", "get_api_version")
def test_canister_time_moves_and_replies_still_verify(target: Target, alice: SuiteClient) -> None:
    """After the canister clock moves an hour ahead, times in replies move with it (nanoseconds),
    while updates and queries still pass certificate and signature checks."""
    first = begin(alice, new_id(), b"before")
    target.advance_clock(3600)
    second = begin(alice, new_id(), b"after")
    assert second.session.created_at - first.session.created_at >= 3600 * NS
    assert alice.connection.verify_certificates and alice.connection.verify_query_signatures
    assert alice.get_api_version()
