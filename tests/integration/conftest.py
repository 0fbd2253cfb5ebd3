"""Fixtures for the integration tests: emulators on 127.0.0.1 and vcrpy cassettes.

Cassettes live under the top-level `cassettes/` directory and are replayed with record mode
`none` (pytest-recording's default): a request the cassette does not hold fails the test, and
so does a recorded request the replay never makes or makes out of its recorded order (see
`tests/recording.py` for how requests are matched and scrubbed). To record all of them again
from the bundled emulators:

    python -m tests.record
"""

from __future__ import annotations

import functools
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from reconciler.catalog import PlexCatalog
from reconciler.config import DEFAULT_FIELDS, Config, parse_config
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.plex import PlexClient
from reconciler.retry import RetryRules
from reconciler.store import Store
from reconciler.worker import Worker
from tests.clock import Clock
from tests.recording import (
    API_KEY_PLACEHOLDER,
    OTHER_API_KEY_PLACEHOLDER,
    OTHER_TOKEN_PLACEHOLDER,
    TOKEN_PLACEHOLDER,
    ScrubRules,
    credential_placeholder,
    match_body,
    match_credentials,
    match_plex_container,
    match_query,
    played_out_of_order,
    scrub_interaction,
)
from tests.scratch import real_plex_configured, real_stash_configured, running_proxy
from tests.scripted import PlexOverHttp, RecordablePlexEmulator

ROOT = Path(__file__).resolve().parents[2]
PLEX_TOKEN = "plex-T0KEN-must-never-leak-7f3a"
STASH_KEY = "stash-KEY-never-leaks-91c2"
SYNC_PLEX_TOKEN = "plex-TOKEN-never-leaks-4d7e"
EMULATOR_ROOTS = ("/media", "/data")
VARYING_HEADERS = (
    "X-Plex-Client-Identifier",
    "X-Plex-Device-Name",
    "X-Plex-Platform",
    "X-Plex-Platform-Version",
    "X-Plex-Version",
    "User-Agent",
)
SCRUB_RULES = ScrubRules(
    secrets={
        PLEX_TOKEN: TOKEN_PLACEHOLDER,
        SYNC_PLEX_TOKEN: TOKEN_PLACEHOLDER,
        STASH_KEY: API_KEY_PLACEHOLDER,
    },
    scratch_roots=EMULATOR_ROOTS,
)


def pytest_recording_configure(config, vcr) -> None:
    vcr.register_matcher("plex_container", match_plex_container)
    vcr.register_matcher("query_multiset", match_query)
    vcr.register_matcher("body_by_kind", match_body)
    vcr.register_matcher("credentials", match_credentials)


def _plex_token(key, value, request) -> str:
    return credential_placeholder(value, (PLEX_TOKEN, SYNC_PLEX_TOKEN), TOKEN_PLACEHOLDER,
                                  OTHER_TOKEN_PLACEHOLDER)


def _stash_key(key, value, request) -> str:
    return credential_placeholder(value, (STASH_KEY,), API_KEY_PLACEHOLDER,
                                  OTHER_API_KEY_PLACEHOLDER)


def _scrub_before_save(request, response):
    clean_request, clean_response = scrub_interaction(request._to_dict(), response, SCRUB_RULES)
    return type(request)._from_dict(clean_request), clean_response


@pytest.fixture(scope="module")
def vcr_config() -> dict:
    return {
        "match_on": [
            "method", "path", "query_multiset", "body_by_kind", "plex_container", "credentials"
        ],
        "filter_headers": [("X-Plex-Token", _plex_token), ("ApiKey", _stash_key)]
        + [(name, "stashplex-tests") for name in VARYING_HEADERS],
        "filter_query_parameters": [("X-Plex-Token", _plex_token), ("apikey", _stash_key)],
        "before_save_interaction": _scrub_before_save,
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request) -> str:
    """`cassettes/<module>/`, or under STASHPLEX_CASSETTE_DIR (a trial recording's own place)."""
    base = Path(os.environ.get("STASHPLEX_CASSETTE_DIR") or ROOT / "cassettes")
    return str(base / request.module.__name__.split(".")[-1])


@pytest.fixture(autouse=True)
def replayed_in_full(request, vcr, record_mode) -> Iterator[None]:
    """A replay must ask only for recorded requests (even when stashplex would swallow the
    error vcrpy raises for another), and make every one of them, in each server's recorded
    order."""
    if vcr is None or record_mode != "none":
        yield
        return
    played: list[int] = []
    missing: list[str] = []
    play_response, can_play = vcr.play_response, vcr.can_play_response_for

    noting = threading.Lock()  # a full pass reads both listings from threads of their own

    def play_and_note(vcr_request):
        with noting:  # so that what one request played is not noted for another
            before = dict(vcr.play_counts)
            response = play_response(vcr_request)
            played.extend(i for i, n in vcr.play_counts.items() if n != before.get(i, 0))
        return response

    def can_play_or_note(vcr_request) -> bool:
        found = can_play(vcr_request)
        if not found:
            missing.append(f"{vcr_request.method} {vcr_request.path}")
        return found

    vcr.play_response, vcr.can_play_response_for = play_and_note, can_play_or_note
    yield
    vcr.play_response, vcr.can_play_response_for = play_response, can_play
    if getattr(request.node, "rep_call_failed", True):
        return
    if missing:
        pytest.fail(f"the cassette {vcr._path} holds no {missing[0]} (and {len(missing) - 1} "
                    "more asked for); re-record with python -m tests.record", pytrace=False)
    unplayed = [i for i in range(len(vcr)) if vcr.play_counts[i] == 0]
    if unplayed:
        stored = vcr.requests[unplayed[0]]
        pytest.fail(
            f"{len(unplayed)} recorded request(s) never made, first: {stored.method} "
            f"{stored.path} (cassette {vcr._path}); did a step of the test go?",
            pytrace=False,
        )
    # stashplex talks to both servers at once, and fetches covers ahead of the GraphQL reads:
    # only the order within each server's reads, and within its cover downloads, is defined
    by_server: dict[tuple[str, bool], list[int]] = {}
    for index in played:
        parts = urlsplit(vcr.requests[index].uri)
        stream = (parts.netloc, parts.path.endswith("/screenshot"))
        by_server.setdefault(stream, []).append(index)
    for indexes in by_server.values():
        position = played_out_of_order(indexes)
        if position is not None:
            stored = vcr.requests[indexes[position]]
            pytest.fail(
                f"request {stored.method} {stored.path} came out of its recorded order "
                f"(cassette {vcr._path})",
                pytrace=False,
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call":
        item.rep_call_failed = report.failed
    return report


@pytest.fixture
def plex() -> Iterator[PlexEmulator]:
    """The Plex emulator in-process, for the tests that run live (no cassette)."""
    emulator = PlexEmulator(token=PLEX_TOKEN, clock=lambda: 1_790_000_000.0)
    emulator.add_section("Adult", ["/media"])
    emulator.start()
    yield emulator
    emulator.stop()


@contextmanager
def plex_under_test(record_mode: str, token: str) -> Iterator[str]:
    """The URL of the Plex a cassette test talks to: the emulator, or, when recording with
    the STASHPLEX_RECORD_PLEX_* variables set, a real server's scratch library behind the
    proxy of `tests/scratch.py`."""
    if record_mode != "none" and real_plex_configured():
        with running_proxy("tests.scratch", [f"--test-token={token}"]) as url:
            yield url
        return
    emulator = RecordablePlexEmulator(token=token, clock=lambda: 1_790_000_000.0).start()
    try:
        yield emulator.url
    finally:
        emulator.stop()


@contextmanager
def stash_under_test(record_mode: str) -> Iterator[str]:
    """The URL of the Stash a cassette test talks to: the emulator, or, when recording with
    the STASHPLEX_RECORD_STASH_* variables set, a real server's scratch scenes behind the
    proxy of `tests/scratch_stash.py`."""
    if record_mode != "none" and real_stash_configured():
        with running_proxy("tests.scratch_stash", [f"--test-key={STASH_KEY}"]) as url:
            yield url
        return
    emulator = StashEmulator(api_key=STASH_KEY, now=Clock(1_790_000_000.0)).start()
    try:
        yield emulator.url
    finally:
        emulator.stop()


@pytest.fixture
def plex_http(record_mode) -> Iterator[PlexOverHttp]:
    """Plex with a section "Adult" on /media, set up and read over HTTP, so a cassette test's
    set-up and read-back are recorded with its traffic."""
    with plex_under_test(record_mode, PLEX_TOKEN) as url:
        plex = PlexOverHttp(url, PLEX_TOKEN)
        plex.add_section("Adult", ["/media"])
        yield plex


def make_config(plex_url: str, database: Path, **overrides) -> Config:
    data = {
        "plex": {"url": plex_url, "token": PLEX_TOKEN, "libraries": ["Adult"], "timeout": 2},
        "stash": {"url": "http://127.0.0.1:9", "api_key": ""},
        "sync": {"fields": [name for name in DEFAULT_FIELDS if name != "poster"]},
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
def world(tmp_path) -> Iterator:
    """Both emulators serving the sample's credentials, with a `World` over them (the commands'
    tests run stashplex against it as a process)."""
    from tests.integration import test_reconcile as sample

    stash = StashEmulator(api_key=sample.STASH_KEY).start()
    plex = PlexEmulator(token=sample.PLEX_TOKEN).start()
    built = sample.World(tmp_path, stash, plex)
    built.app.close()
    yield built
    stash.stop()
    plex.stop()


@pytest.fixture
def stash_clock() -> Clock:
    return Clock()


@pytest.fixture
def plex_clock() -> Clock:
    return Clock()


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time() + 1)  # jobs queued just now are due


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    db = Store(tmp_path / "stashplex.db")
    yield db
    db.close()


class _Fetched:
    """A cover downloaded when the worker asks for it (what `StashClient.start_image` sends
    ahead), from a test's plain download function; what it raised is raised where the
    worker reads the cover, as a download's failure is."""

    def __init__(self, fetch: Callable[[str], bytes], url: str) -> None:
        self._image: bytes | None = None
        self._error: Exception | None = None
        try:
            self._image = fetch(url)
        except Exception as exc:
            self._error = exc

    def result(self) -> bytes:
        if self._error is not None:
            raise self._error
        assert self._image is not None
        return self._image

    def abandon(self) -> None:
        """Nothing left to let go."""


def no_images(url: str) -> bytes:
    raise AssertionError(f"no image expected in this test, asked for {url}")


@pytest.fixture
def make_worker(store, clock):
    """A worker against the Plex emulator (or its cassette), with a fake clock."""

    def build(config: Config, fetch_image=no_images) -> Worker:
        catalog = PlexCatalog(PlexClient(config.plex), clock=clock)
        rules = RetryRules(config.retry, random.Random(7))
        start_image = functools.partial(_Fetched, fetch_image)
        return Worker(config, store, catalog, start_image, rules, clock=clock)

    return build
