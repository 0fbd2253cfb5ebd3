"""However many threads ask at once (a full pass's two walks, the cover downloads, the
photos served to Plex), Stash never has more than two of stashplex's requests in hand."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.config import parse_config
from reconciler.emulators.stash import StashEmulator
from reconciler.readahead import STASH_IN_FLIGHT
from reconciler.stash import StashClient
from tests.in_hand import InHand

pytestmark = pytest.mark.integration


def test_stash_never_has_more_than_two_requests_in_hand():
    stash = StashEmulator(api_key="key").start()
    scene_id = stash.add_scene(title="One", files=["/data/one.mp4"])
    config = parse_config({"stash": {"url": stash.url, "api_key": "key"}}, env={}).stash
    client = StashClient(config)
    twin = client.twin()

    def hold(request, now) -> None:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and now() <= STASH_IN_FLIGHT:
            time.sleep(0.01)  # long enough for every thread's request to arrive

    in_hand = InHand(stash, hold)
    screenshot = f"{stash.url}/scene/{scene_id}/screenshot"
    asks = [client.version, twin.version, client.version,
            lambda: client.fetch_image(screenshot), lambda: twin.fetch_image(screenshot)]
    start = threading.Barrier(len(asks))
    answers: list[object] = []

    def ask(call) -> None:
        start.wait(10)
        answers.append(call())

    threads = [threading.Thread(target=ask, args=(call,)) for call in asks]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        twin.close()
        client.close()
        stash.stop()
    assert len(answers) == len(asks)
    assert in_hand.most == STASH_IN_FLIGHT
