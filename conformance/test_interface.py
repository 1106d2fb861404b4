"""§2: the interface. A client generated from the contract's .did must work against the target
unchanged, so every contract method the target declares must have exactly the contract's wire types."""

from __future__ import annotations

import pytest

from clients.ic import DidService

from .calls import SuiteClient
from .catalog import ANONYMOUS, CANDID_HACK_METHOD, DEPLOYED_METHODS, NOT_IMPLEMENTED, PROGRESS_METHODS
from .target import Target, method_shape

pytestmark = [pytest.mark.task("1"), pytest.mark.portable]


@pytest.mark.req("24.3")
@pytest.mark.parametrize("name", [*DEPLOYED_METHODS, *PROGRESS_METHODS, CANDID_HACK_METHOD])
def test_method_has_contract_signature(target: Target, name: str) -> None:
    """Each contract method the target declares has the contract's argument and result types and
    mode (query or update); type names may differ, wire shapes may not."""
    if name not in target.methods:
        pytest.skip(f"{NOT_IMPLEMENTED}{name}")
    assert target.service is not None
    assert method_shape(target.service, name) == method_shape(target.contract, name), (
        f"{name}: the target declares {target.service[name]!r:.200}, "
        f"the contract {target.contract[name]!r:.200}"
    )


@pytest.mark.req("24.3")
@pytest.mark.method(CANDID_HACK_METHOD)
def test_candid_interface_query_matches_published_interface(target: Target, alice: SuiteClient) -> None:
    """`__get_candid_interface_tmp_hack` serves the same interface as the target publishes."""
    served = DidService.from_text(alice.candid_interface())
    assert target.service is not None
    assert set(served.methods) == set(target.service.methods)
    for name in served.methods:
        assert method_shape(served, name) == method_shape(target.service, name), name


@pytest.mark.req("17.1")
@pytest.mark.method("whoami")
def test_whoami_is_the_signing_principal(alice: SuiteClient, anon: SuiteClient) -> None:
    """The caller is the principal derived from the request signature; unsigned is anonymous."""
    assert alice.whoami() == alice.principal
    assert anon.whoami() == ANONYMOUS


@pytest.mark.req("24.3")
@pytest.mark.method("get_api_version")
def test_api_version_is_text(alice: SuiteClient) -> None:
    """`get_api_version` answers a non-empty version text."""
    version = alice.get_api_version()
    assert isinstance(version, str) and version.strip()
