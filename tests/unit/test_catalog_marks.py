"""The catalog's memory of each item: whether it still looks as stashplex left it."""

from __future__ import annotations

from reconciler.catalog import PlexCatalog
from reconciler.models import PlexItem
from reconciler.plex import fingerprint


def listed(catalog: PlexCatalog, **fields) -> PlexItem:
    item = PlexItem(rating_key=12, section_id=1, files=["/m/a.mp4"], **fields)
    catalog.note(item)
    return item


def test_an_item_is_unchanged_only_with_the_same_stamp_and_the_same_text():
    catalog = PlexCatalog(None)
    item = listed(catalog, title="Sunrise", updated_at=1_764_000_000)
    assert catalog.unchanged_since_sync(12, 1_764_000_000, fingerprint(item))
    assert not catalog.unchanged_since_sync(12, 1_764_000_001, fingerprint(item))
    edited = PlexItem(rating_key=12, section_id=1, title="Sunrise!", updated_at=1_764_000_000)
    assert not catalog.unchanged_since_sync(12, 1_764_000_000, fingerprint(edited))
    assert not catalog.unchanged_since_sync(13, 1_764_000_000, fingerprint(item))


def test_a_state_without_a_fingerprint_or_with_another_kind_is_a_change():
    catalog = PlexCatalog(None)
    listed(catalog, updated_at=5)
    assert not catalog.unchanged_since_sync(12, 5, None)
    assert not catalog.unchanged_since_sync(12, None, "00ff00ff00ff00ff")
    assert not catalog.unchanged_since_sync(12, 5, "not a fingerprint")


def test_a_forgotten_item_is_no_longer_known():
    catalog = PlexCatalog(None)
    listed(catalog, updated_at=5)
    assert catalog.knows(12)
    catalog.forget(12)
    assert not catalog.knows(12) and not catalog.unchanged_since_sync(12, 5, None)
