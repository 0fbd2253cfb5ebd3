"""Fixtures for the integration tests: emulators on 127.0.0.1 and vcrpy cassettes.

Cassettes live under the top-level `cassettes/` directory and are replayed with
record mode `none` (pytest-recording's default). To record them again against the
bundled emulators:

    python -m pytest tests/integration --record-mode=rewrite
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.catalog import PlexCatalog
from reconciler.config import SYNC_FIELDS, Config, parse_config
from reconciler.emulators.plex import PlexEmulator
from reconciler.plex import PlexClient
from reconciler.retry import RetryRules
from reconciler.store import Store
from reconciler.worker import Worker
from tests.clock import Clock

ROOT = Path(__file__).resolve().parents[2]
PLEX_TOKEN = "plex-T0KEN-must-never-leak-7f3a"
TOKEN_PLACEHOLDER = "<PLEX_TOKEN>"
VARYING_HEADERS = (
    "X-Plex-Client-Identifier",
    "X-Plex-Device-Name",
    "X-Plex-Platform",
    "X-Plex-Platform-Version",
    "X-Plex-Version",
    "User-Agent",
)


def _plex_container(r1, r2) -> None:
    """Plex pages by request headers, which vcrpy's default matchers ignore."""
    for name in ("X-Plex-Container-Start", "X-Plex-Container-Size"):
        assert r1.headers.get(name) == r2.headers.get(name), name


def pytest_recording_configure(config, vcr) -> None:
    vcr.register_matcher("plex_container", _plex_container)


@pytest.fixture(scope="module")
def vcr_config() -> dict:
    return {
        "match_on": ["method", "path", "query", "plex_container"],
        "filter_headers": [("X-Plex-Token", TOKEN_PLACEHOLDER), "ApiKey"]
        + [(name, "stashplex-tests") for name in VARYING_HEADERS],
        "filter_query_parameters": [("X-Plex-Token", TOKEN_PLACEHOLDER), "apikey"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request) -> str:
    return str(ROOT / "cassettes" / request.module.__name__.split(".")[-1])


@pytest.fixture
def plex() -> Iterator[PlexEmulator]:
    emulator = PlexEmulator(token=PLEX_TOKEN, clock=lambda: 1_790_000_000.0)
    emulator.add_section("Adult", ["/media"])
    emulator.start()
    yield emulator
    emulator.stop()


def make_config(plex_url: str, database: Path, **overrides) -> Config:
    data = {
        "plex": {"url": plex_url, "token": PLEX_TOKEN, "libraries": ["Adult"], "timeout": 2},
        "stash": {"url": "http://127.0.0.1:9", "api_key": ""},
        "sync": {"fields": [name for name in SYNC_FIELDS if name != "poster"]},
        "schedule": {"process_interval": 0.001},
        "database": str(database),
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return parse_config(data, env={})




@pytest.fixture
def clock() -> Clock:
    return Clock(time.time() + 1)  # jobs queued just now are due


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    db = Store(tmp_path / "stashplex.db")
    yield db
    db.close()


def no_images(url: str) -> bytes:
    raise AssertionError(f"no image expected in this test, asked for {url}")


@pytest.fixture
def make_worker(store, clock):
    """A worker against the Plex emulator (or its cassette), with a fake clock."""

    def build(config: Config, fetch_image=no_images) -> Worker:
        catalog = PlexCatalog(PlexClient(config.plex), clock=clock)
        rules = RetryRules(config.retry, random.Random(7))
        return Worker(config, store, catalog, fetch_image, rules, clock=clock)

    return build
