"""The content hash keeps its value across versions: a new value for the same scene and
settings would rewrite every item of the library on the next full pass."""

import dataclasses

import pytest

from reconciler.config import SyncConfig
from reconciler.diff import content_hash
from reconciler.models import Scene

FULL = Scene(
    id="2",
    title="Ä t",
    details="x\ny",
    date="2020-01-02",
    rating100=40,
    studio="S",
    performers=["A", "b"],
    performer_images={"A": "http://s/performer/1/image?t=1"},
    tags=["T1", "t2"],
    files=["/a/b.mp4", "/c.mp4"],
    screenshot="http://s/x",
    code="C1",
    parent_studio="P",
    groups=["G"],
    organized=True,
)
PHOTOS = SyncConfig(
    fields=["title", "performer_photos", "performers"],
    clear_empty=True,
    ignore_tags=["X", "y"],
    content_rating="",
    title_format="{title} {code}",
)

# values of the hash as stashplex computed it before the settings' part was encoded once
@pytest.mark.parametrize(
    ("scene", "sync", "photos", "value"),
    [
        (Scene(id="1"), SyncConfig(), "", "4fc20b4456224a588a045bdeceb1ee29"),
        (Scene(id="1"), PHOTOS, "http://me", "d60f365a6c1957faa07194477b8b32be"),
        (FULL, SyncConfig(), "", "69e32ac908ab4c3ea9cd8416e2566c79"),
        (FULL, SyncConfig(), "http://me", "e121a5ebba82e4dc5d0f48115130f08a"),
        (FULL, PHOTOS, "", "24b410746992a8b1cb323804e5c296ad"),
        (FULL, PHOTOS, "http://me", "426c07e3bb30f2eccd2355e0d4614b2b"),
    ],
)
def test_the_hash_of_a_scene_keeps_its_value(scene, sync, photos, value):
    assert content_hash(scene, sync, photos) == value


def test_a_setting_changed_after_a_first_hash_changes_the_hash():
    sync = SyncConfig()
    before = content_hash(FULL, sync)
    sync.ignore_tags.append("t1")
    assert content_hash(FULL, sync) != before
    sync.ignore_tags.clear()
    sync.fields.remove("tags")
    assert content_hash(FULL, sync) != before


def test_to_dict_gives_every_field_as_asdict_does_in_copies():
    data = FULL.to_dict()
    assert data == dataclasses.asdict(FULL)
    data["performers"].append("C")
    data["performer_images"]["B"] = "x"
    assert FULL.performers == ["A", "b"] and "B" not in FULL.performer_images
