"""§4, seed tasks 1.0 and 1.5: a caller's capsule is created on first use and has a unique id."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from clients.artifact.types import PersonRef

from .calls import SuiteClient
from .kit import gallery_data, new_id, refused

pytestmark = [pytest.mark.task("1.0"), pytest.mark.portable, pytest.mark.req("26")]

NS_2017 = 1_483_228_800 * 10**9


@pytest.mark.req("24.1")
@pytest.mark.method("register_capsule", "get_user")
def test_register_capsule_reports_whether_it_is_new(alice: SuiteClient) -> None:
    """The first `register_capsule` creates the capsule (`is_new`), the second finds the same one;
    `get_user` describes it as the caller's own."""
    assert alice.get_user() is None
    first = alice.register_capsule()
    assert first.success and first.is_new and first.capsule_id
    second = alice.register_capsule()
    assert second.success and not second.is_new
    assert second.capsule_id == first.capsule_id
    info = alice.get_user()
    assert info is not None
    assert info.capsule_id == first.capsule_id
    assert info.subject == PersonRef("Principal", alice.principal)
    assert info.created_at > NS_2017


@pytest.mark.method("register", "get_user", "register_capsule")
def test_register_creates_the_capsule(alice: SuiteClient) -> None:
    """`register` creates the caller's capsule (answering true); afterwards it is not new."""
    assert alice.register() is True
    assert alice.get_user() is not None
    assert alice.register_capsule().is_new is False


@pytest.mark.method("store_gallery_forever", "get_user", "register_capsule")
def test_first_write_creates_the_capsule(alice: SuiteClient) -> None:
    """Any write (here a gallery) creates the caller's capsule on first use."""
    alice.store_gallery_forever(gallery_data(alice.principal, new_id()))
    info = alice.get_user()
    assert info is not None
    reply = alice.register_capsule()
    assert (reply.is_new, reply.capsule_id) == (False, info.capsule_id)


@pytest.mark.snapshot_skip(reason="concurrent calls complete in any order")
@pytest.mark.method("register_capsule")
def test_capsule_ids_are_unique_when_created_together(make_caller: Callable[[str], SuiteClient]) -> None:
    """Capsules created at the same instant by different principals get different ids."""
    callers = [make_caller(f"p{i}") for i in range(8)]
    barrier = threading.Barrier(len(callers))
    ids: list[str | None] = [None] * len(callers)

    def run(i: int) -> None:
        barrier.wait()
        ids[i] = callers[i].register_capsule().capsule_id

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(callers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert None not in ids
    assert len(set(ids)) == len(ids), f"duplicate capsule ids: {ids}"


@pytest.mark.req("17.1")
@pytest.mark.task("1.5")
@pytest.mark.method("register", "register_capsule", "get_user")
def test_anonymous_has_no_capsule(anon: SuiteClient) -> None:
    """The anonymous principal cannot create a capsule: `register` answers false,
    `register_capsule` is `Unauthorized`, `get_user` is null."""
    assert anon.register() is False
    with refused(None, "Unauthorized"):
        anon.register_capsule()
    assert anon.get_user() is None
