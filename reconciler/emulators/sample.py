"""Sample libraries for the demo and the benchmark: Stash scenes and the Plex items for their files.

Deterministic for a given seed. `sample_library` returns plain fixtures (JSON-able
dicts) so the same library can be loaded into in-process emulators or handed to
emulator subprocesses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

STUDIOS = [
    "Northern Lights",
    "Harbour Films",
    "Blue Fern",
    "Copper Lane",
    "Meadow & Co",
    "Studio Kilo",
    "Velvet Box",
    "Tidewater",
    "Oak Hill",
    "Starling",
]
FIRST = [
    "Ava",
    "Bea",
    "Cleo",
    "Dana",
    "Eve",
    "Faye",
    "Gia",
    "Hana",
    "Ines",
    "Jade",
    "Kira",
    "Lena",
    "Mia",
    "Nora",
    "Opal",
    "Pia",
    "Quinn",
    "Rosa",
    "Sia",
    "Tess",
    "Uma",
    "Vera",
    "Wren",
    "Xena",
    "Yara",
    "Zoe",
    "Émilie",
    "Søren",
    "Mio",
    "Aiko",
]
LAST = [
    "Stone",
    "Rivers",
    "Vale",
    "Marsh",
    "Lake",
    "Frost",
    "Moreau",
    "Kowalski",
    "Nakamura",
    "Okafor",
    "Silva",
    "Novak",
    "Berg",
    "Quinn",
    "Hale",
]
TAGS = [
    "Outdoor",
    "Indoor",
    "Beach",
    "Pool",
    "Kitchen",
    "Bedroom",
    "Sunset",
    "Rain",
    "Winter",
    "Summer",
    "Vintage",
    "4K",
    "VR",
    "Behind the Scenes",
    "Interview",
    "Dance",
    "Costume",
    "Road Trip",
    "Cabin",
    "City",
    "Garden",
    "Studio",
    "Night",
    "Morning",
    "Compilation",
]
WORDS = [
    "quiet",
    "golden",
    "late",
    "long",
    "open",
    "secret",
    "slow",
    "bright",
    "wild",
    "soft",
    "harbour",
    "window",
    "river",
    "garden",
    "letter",
    "morning",
    "velvet",
    "summer",
    "station",
    "island",
    "mirror",
    "echo",
    "lantern",
    "meadow",
    "cinder",
]


@dataclass
class SampleLibrary:
    """Fixtures for both emulators plus what the demo wants to point at."""

    stash: dict
    plex: dict
    unscanned: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    in_sync: list[str] = field(default_factory=list)


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _scene(rng: random.Random, number: int, root: str) -> dict:
    studio = rng.choice(STUDIOS)
    title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4))).title()
    performers = sorted(
        {f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(rng.randint(1, 3))}
    )
    year = rng.randint(2012, 2025)
    folder = studio.replace(" & ", " and ")
    return {
        "title": title,
        "details": " ".join(_sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(2, 4))),
        "date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "rating100": rng.choice([None, 20, 40, 60, 70, 80, 90, 100]),
        "studio": studio,
        "performers": performers,
        "tags": sorted(rng.sample(TAGS, rng.randint(3, 10))),
        "files": [f"{root}/{folder}/{year}/{title} [{number:06d}].mp4"],
    }


def _synced_item(scene: dict, plex_path: str) -> dict:
    return {
        "section": 1,
        "files": [plex_path],
        "title": scene["title"],
        "summary": scene["details"],
        "studio": scene["studio"],
        "originally_available_at": scene["date"],
        "user_rating": scene["rating100"] / 10 if scene["rating100"] else None,
        "genres": scene["tags"],
        "actors": scene["performers"],
        "collections": [scene["studio"]],
        "year": int(scene["date"][:4]),
        "content_rating": "XXX",
        "locked": [
            "year",
            "contentRating",
            "title",
            "summary",
            "studio",
            "originallyAvailableAt",
            "genre",
            "actor",
            "collection",
        ]
        + (["userRating"] if scene["rating100"] else []),
    }


def sample_library(
    count: int = 36,
    *,
    seed: int = 1,
    stash_root: str = "/data/stash",
    plex_root: str = "/media/stash",
    library: str = "Adult",
    in_sync_share: float = 0.25,
    special_cases: bool = True,
) -> SampleLibrary:
    """`count` scenes; a share already in sync on Plex; one never scanned, one ambiguous."""
    rng = random.Random(seed)
    scenes = [_scene(rng, number, stash_root) for number in range(1, count + 1)]
    items = []
    result = SampleLibrary(
        stash={"scenes": scenes},
        plex={
            "sections": [{"title": library, "locations": [plex_root], "type": "movie"}],
            "items": items,
        },
    )
    for number, scene in enumerate(scenes, 1):
        scene_id = str(number)
        plex_path = plex_root + scene["files"][0][len(stash_root) :]
        if special_cases and number == count:
            result.unscanned.append(scene_id)
            continue
        if rng.random() < in_sync_share:
            items.append(_synced_item(scene, plex_path))
            result.in_sync.append(scene_id)
        else:
            items.append({"section": 1, "files": [plex_path]})
        if special_cases and number == count - 1:
            items.append({"section": 1, "files": [plex_path]})
            result.ambiguous.append(scene_id)
    return result
