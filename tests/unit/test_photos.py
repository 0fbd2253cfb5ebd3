"""Which photo URL Plex is given for a performer, and the cache of served photos."""

import pytest

from reconciler.config import parse_config
from reconciler.photos import STASH_URLS, actor_thumbs, photo_source, photo_url
from reconciler.photoserve import PerformerPhotos

STASH = "http://stash:9999/performer/12/image?t=1700000000"


@pytest.mark.parametrize(
    "path, source, url",
    [
        (STASH, STASH_URLS, STASH),
        (STASH, "http://sp:8765", "http://sp:8765/performer/12/image?t=1700000000"),
        (STASH + "&default=true", STASH_URLS, None),
        (STASH + "&default=true", "http://sp:8765", None),
        ("http://stash/prefix/performer/5/image?t=3", "http://sp", "http://sp/performer/5/image?t=3"),
        (STASH, "", None),
        ("", STASH_URLS, None),
    ],
)
def test_photo_url(path, source, url):
    assert photo_url(path, source) == url


@pytest.mark.parametrize(
    "data, source",
    [
        ({}, STASH_URLS),
        ({"stash": {"api_key": "k"}}, ""),
        ({"stash": {"api_key": "k"}, "server": {"public_url": "http://sp:8765/"}}, ""),
        (
            {"stash": {"api_key": "k"},
             "server": {"public_url": "http://sp:8765/", "listen": "0.0.0.0:8765"}},
            "http://sp:8765",
        ),
        ({"sync": {"fields": ["title", "performers"]}}, ""),
    ],
)
def test_photo_source(data, source):
    assert photo_source(parse_config(data, env={})) == source


def test_a_bad_public_url_is_a_config_error():
    from reconciler.errors import ConfigError

    with pytest.raises(ConfigError, match="server.public_url: expected an http:// or https://"):
        parse_config({"server": {"public_url": "stashplex:8765"}}, env={})


def test_photos_are_matched_to_actors_without_regard_to_case():
    images = {"ann": STASH, "Bo": STASH + "&default=true"}
    assert actor_thumbs(images, ("Ann", "Bo", "Cy"), STASH_URLS) == {"ann": STASH}


def test_the_photo_cache_answers_again_from_memory_and_stays_under_its_bound():
    asked = []

    def fetch(performer_id, stamp):
        asked.append((performer_id, stamp))
        return bytes(400), "image/jpeg"

    photos = PerformerPhotos(fetch, max_bytes=1000)
    photos.photo("1", "5")
    photos.photo("1", "5")
    assert asked == [("1", "5")]
    photos.photo("1", "6")  # a new stamp is a new photo
    photos.photo("2", "5")
    assert photos.cached_bytes <= 1000
    photos.photo("1", "6")
    photos.photo("1", "5")  # the oldest one left the cache
    assert asked == [("1", "5"), ("1", "6"), ("2", "5"), ("1", "5")]
