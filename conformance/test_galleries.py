"""§4, seed task 1.0: galleries are readable by their owner (and by anyone when public), writable by
their owner only."""

from __future__ import annotations

import pytest

from clients.artifact.types import GalleryMemoryEntry, GalleryUpdateData

from .calls import SuiteClient
from .kit import gallery_data, new_id, refused

pytestmark = [pytest.mark.task("1.0"), pytest.mark.portable, pytest.mark.req("26")]


def _store(caller: SuiteClient, *, is_public: bool, title: str = "g") -> str:
    gid = new_id()
    caller.store_gallery_forever(gallery_data(caller.principal, gid, is_public=is_public, title=title))
    return gid


@pytest.mark.req("17.1")
@pytest.mark.method("store_gallery_forever", "get_gallery_by_id")
def test_gallery_visibility_by_id(alice: SuiteClient, bob: SuiteClient, anon: SuiteClient) -> None:
    """`get_gallery_by_id` answers the caller's own galleries and public ones; another principal's
    private gallery is `null`, as if it did not exist."""
    private, public = _store(alice, is_public=False), _store(alice, is_public=True)
    own = alice.get_gallery_by_id(private)
    assert own is not None and own.id == private
    assert bob.get_gallery_by_id(private) is None
    assert anon.get_gallery_by_id(private) is None
    seen = bob.get_gallery_by_id(public)
    assert seen is not None and seen == alice.get_gallery_by_id(public)
    assert anon.get_gallery_by_id(public) == seen
    assert alice.get_gallery_by_id(new_id()) is None


@pytest.mark.method("store_gallery_forever", "get_my_galleries")
def test_my_galleries_are_exactly_mine(alice: SuiteClient, bob: SuiteClient) -> None:
    """`get_my_galleries` lists all of the caller's galleries, private ones included, and no others."""
    assert alice.get_my_galleries() == []
    mine = {_store(alice, is_public=False), _store(alice, is_public=True)}
    _store(bob, is_public=True)
    assert {g.id for g in alice.get_my_galleries()} == mine


@pytest.mark.method("store_gallery_forever", "get_user_galleries")
def test_user_galleries_show_others_only_public(
    alice: SuiteClient, bob: SuiteClient, anon: SuiteClient
) -> None:
    """`get_user_galleries(p)` is all of p's galleries for p itself, only p's public ones for anyone else."""
    private, public = _store(alice, is_public=False), _store(alice, is_public=True)
    assert {g.id for g in alice.get_user_galleries(alice.principal)} == {private, public}
    assert [g.id for g in bob.get_user_galleries(alice.principal)] == [public]
    assert [g.id for g in anon.get_user_galleries(alice.principal)] == [public]


@pytest.mark.req("24.1")
@pytest.mark.method("store_gallery_forever", "update_gallery", "get_gallery_by_id")
def test_update_replaces_only_the_given_fields(alice: SuiteClient) -> None:
    """Each present `opt` field of `GalleryUpdateData` replaces the stored one, absent ones are
    kept, `updated_at` moves forward and `created_at` does not."""
    gid = _store(alice, is_public=False, title="before")
    before = alice.get_gallery_by_id(gid)
    assert before is not None
    reply = alice.update_gallery(gid, GalleryUpdateData(title="after"))
    assert reply.success and reply.gallery is not None
    after = alice.get_gallery_by_id(gid)
    assert after == reply.gallery
    assert after is not None
    assert after.title == "after"
    assert (after.description, after.is_public, after.memory_entries) == (
        before.description,
        before.is_public,
        before.memory_entries,
    )
    assert after.created_at == before.created_at
    assert after.updated_at > before.updated_at
    entries = (GalleryMemoryEntry(new_id(), 0, "caption", True, '{"k":1}'), GalleryMemoryEntry(new_id(), 1))
    alice.update_gallery(gid, GalleryUpdateData(description="new", is_public=True, memory_entries=entries))
    final = alice.get_gallery_by_id(gid)
    assert final is not None
    assert (final.title, final.description, final.is_public, final.memory_entries) == (
        "after",
        "new",
        True,
        entries,
    )


@pytest.mark.req("17.1", "17.3")
@pytest.mark.task("1.5")
@pytest.mark.method("store_gallery_forever", "update_gallery", "delete_gallery", "get_gallery_by_id")
def test_only_the_owner_updates_or_deletes(alice: SuiteClient, bob: SuiteClient) -> None:
    """Updating or deleting another principal's gallery is `Unauthorized` and changes nothing."""
    gid = _store(alice, is_public=True)
    before = alice.get_gallery_by_id(gid)
    with refused(None, "Unauthorized"):
        bob.update_gallery(gid, GalleryUpdateData(title="bob was here"))
    with refused(None, "Unauthorized"):
        bob.delete_gallery(gid)
    assert alice.get_gallery_by_id(gid) == before


@pytest.mark.method("update_gallery")
def test_update_of_unknown_gallery_is_not_found(alice: SuiteClient) -> None:
    """Updating an id that was never stored answers `Gallery not found`."""
    with refused(None, "Gallery not found"):
        alice.update_gallery(new_id(), GalleryUpdateData(title="x"))


@pytest.mark.method("store_gallery_forever", "delete_gallery", "get_gallery_by_id", "get_my_galleries")
def test_delete_removes_and_a_second_delete_is_not_found(alice: SuiteClient) -> None:
    """A deleted gallery is gone (by id and from the owner's list); deleting it again answers
    `Gallery not found`."""
    gid, kept = _store(alice, is_public=True), _store(alice, is_public=False)
    assert alice.delete_gallery(gid).success
    assert alice.get_gallery_by_id(gid) is None
    assert [g.id for g in alice.get_my_galleries()] == [kept]
    with refused(None, "Gallery not found"):
        alice.delete_gallery(gid)
