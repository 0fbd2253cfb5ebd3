"""Servers that go away and come back: nothing is dead-lettered for it, nothing is missed."""

from __future__ import annotations

import contextlib
import time

import pytest

from reconciler.app import App
from reconciler.daemon import Daemon
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.engine import STASH_SCENES
from reconciler.errors import StashplexError
from reconciler.sdnotify import Notifier
from reconciler.status import collect_status
from tests.clock import Clock
from tests.integration.test_reconcile import PLEX_TOKEN, STASH_KEY, World
from tests.reliability.stashplex_oracle import mismatches

pytestmark = pytest.mark.integration

QUICK = {"transient": {"base": 0.01, "cap": 0.02}, "not_found": {"base": 0.01, "cap": 0.02}}


@pytest.fixture
def world(tmp_path):
    clock = Clock()
    stash = StashEmulator(api_key=STASH_KEY, now=clock).start()
    original = stash.update_scene

    def update_scene(scene_id, **fields):
        clock.tick()  # each edit a second after the one before, as a person makes them
        original(scene_id, **fields)

    stash.update_scene = update_scene
    plex = PlexEmulator(token=PLEX_TOKEN).start()
    built = World(tmp_path, stash, plex)
    for n in range(5, 13):
        stash.add_scene(title=f"Scene {n}", files=[f"/data/Studio/scene-{n}.mp4"])
        built.rating_keys[str(n)] = plex.add_item("Adult", f"/media/Studio/scene-{n}.mp4")
    built.config.retry.transient.base = built.config.retry.transient.cap = 0.01
    built.config.retry.not_found.base = built.config.retry.not_found.cap = 0.01
    built.app.close()
    built.app = App(built.config)
    yield built
    built.app.close()
    stash.stop()
    plex.stop()


def cycle(world: World, rounds: int) -> None:
    """What the daemon does: poll, then drain; a failed poll is logged and tried again."""
    for _ in range(rounds):
        with contextlib.suppress(StashplexError):
            world.app.engine.poll()
        world.app.worker.drain()
        time.sleep(0.03)


def in_step(world: World) -> bool:
    return all(world.item(s["id"]).title == s["title"] for s in world.stash.scenes())


def detail_batch_sizes(plex: PlexEmulator) -> list[int]:
    return [len(path.rsplit("/", 1)[1].split(",")) for method, path, _ in plex.requests
            if method == "GET" and path.startswith("/library/metadata/")]


def test_plex_refusing_then_answering_503_dead_letters_nothing_and_ramps_up(world):
    world.app.reconcile_all()
    for n in range(1, 13):
        world.stash.update_scene(str(n), title=f"Edited {n}")
    world.plex.stop()

    cycle(world, 8)
    assert world.app.worker.paused
    world.plex.start()
    world.plex.inject(503, count=6)  # starting up: /identity and everything else answer 503
    cycle(world, 3)
    assert world.app.worker.paused
    world.plex.reset_log()
    cycle(world, 6)

    assert not world.app.worker.paused
    assert in_step(world)
    store = world.app.store
    assert store.dead_letters() == [] and store.jobs() == []
    sizes = detail_batch_sizes(world.plex)
    assert sizes[:4] == [1, 1, 2, 2]  # each batch read, written, then read back at once
    assert max(sizes) > 2


def test_a_503_storm_spends_no_retries(world):
    world.app.reconcile_all()
    world.stash.update_scene("1", title="During the storm")
    world.plex.inject(503, count=40, path_prefix="/library")

    cycle(world, 12)

    job = world.app.store.job_for("1")
    assert job is not None and job.retries == 0 and job.last_error_class == "PlexUnavailable"
    assert world.app.store.dead_letters() == []
    world.plex.clear_faults()
    cycle(world, 6)
    assert world.item("1").title == "During the storm"


@pytest.mark.parametrize("failure", ["down", "500"])
def test_stash_down_or_failing_keeps_the_watermark_and_misses_nothing(world, failure):
    world.app.reconcile_all()
    mark = world.app.store.watermark(STASH_SCENES)
    world.stash.update_scene("2", title="Edited before the outage")
    if failure == "down":
        world.stash.stop()
    else:
        world.stash.inject(500, count=50, path_prefix="/graphql")

    cycle(world, 3)
    assert world.app.store.watermark(STASH_SCENES) == mark

    if failure == "down":
        world.stash.start()
    else:
        world.stash.clear_faults()
    world.stash.update_scene("3", title="Edited after the outage")
    cycle(world, 2)

    assert world.item("2").title == "Edited before the outage"
    assert world.item("3").title == "Edited after the outage"
    assert world.app.store.watermark(STASH_SCENES) > mark


def test_both_down_and_a_restart_of_stashplex_in_between(world):
    world.app.reconcile_all()
    world.stash.update_scene("4", title="Edited before both went down")
    world.plex.edit_item(world.rating_keys["5"], title="Edited in Plex by hand")
    world.stash.stop()
    world.plex.stop()
    cycle(world, 3)
    world.app.close()
    world.app = App(world.config)  # stashplex restarts during the outage
    cycle(world, 3)

    world.stash.start()
    world.plex.start()
    world.stash.update_scene("6", title="Edited during the outage")
    cycle(world, 8)

    assert in_step(world)
    assert world.app.store.dead_letters() == []


# -- Stash away while the worker downloads covers -------------------------------------------

PATH_MAP = [("/data", "/media")]


def new_covers(world: World, scene_ids) -> dict[str, bytes]:
    """Each scene gets a cover of its own (a new screenshot URL): its job needs Stash."""
    covers = {}
    for scene_id in scene_ids:
        covers[scene_id] = f"cover of scene {scene_id}, second version".encode()
        world.stash.set_cover(scene_id, covers[scene_id])
        world.stash.update_scene(scene_id, title=f"Covered {scene_id}")
    return covers


def in_step_with_covers(world: World, covers: dict[str, bytes]) -> list[str]:
    return mismatches(world.stash.scenes(), world.plex.items(), PATH_MAP, covers,
                      fields=("title", "poster"))


def cover_requests(stash: StashEmulator) -> int:
    return sum(1 for _, path, _ in stash.requests if path.endswith("/screenshot"))


@pytest.mark.parametrize("outage", ["down", "503"])
def test_a_stash_outage_in_the_middle_of_a_drain_spends_no_retry(world, outage):
    world.app.reconcile_all()
    covers = new_covers(world, [str(n) for n in range(1, 13)])
    world.app.engine.poll()  # the jobs are queued; each one downloads its cover from Stash
    if outage == "down":
        world.stash.stop()  # restarting: nothing answers
    else:
        world.stash.inject(503, count=10_000, skip=3)  # starting up: everything answers 503

    cycle(world, 10)

    store = world.app.store
    assert store.dead_letters() == []
    jobs = store.jobs()
    assert jobs and all(job.retries == 0 for job in jobs)
    assert {job.last_error_class for job in jobs} <= {"StashUnreachable", "StashUnavailable"}
    assert world.app.worker.paused  # probed with backoff, not asked once per job
    if outage == "down":
        world.stash.start()
    else:
        world.stash.clear_faults()
    world.stash.reset_log()
    cycle(world, 8)

    assert in_step_with_covers(world, covers) == []
    assert store.dead_letters() == [] and store.jobs() == []
    assert not world.app.worker.paused


# -- a refused token: one problem, not one per job ------------------------------------------


@pytest.fixture
def daemon(world):
    """The daemon's jobs, run one at a time by hand, on a clock the test moves."""
    clock = Clock(time.time() + 60)  # jobs queued just now are due
    world.app.close()
    world.app = App(world.config, clock=clock)
    built = Daemon(world.config, Notifier(address=""))
    built.app, built.clock = world.app, clock
    yield built
    world.app = built.app


def restart(daemon: Daemon, world: World) -> None:
    daemon.app.close()
    daemon.app = world.app = App(world.config, clock=daemon.clock)


@pytest.mark.parametrize("fixed_by", ["the key accepted again", "a restart with the new key"])
def test_a_stash_key_refused_then_accepted_queues_its_dead_letters_again(world, daemon, fixed_by):
    daemon.poll()  # the first full pass
    covers = new_covers(world, ["1", "2", "3", "4"])
    world.app.engine.poll()
    world.stash.api_key = "regenerated-in-stash-settings"  # the key stashplex has is refused

    daemon.drain()

    store = world.app.store
    (letter,) = store.dead_letters()  # the job in hand, permanent as the retry table says
    assert letter.error_class == "StashAuthError" and "401" in letter.error_message
    assert len(store.jobs()) == 3  # the others wait: no more claims while Stash refuses
    stash_health = collect_status(store)["servers"]["stash"]
    assert stash_health["problem"] == "refused" and stash_health["since"] is not None
    assert "Stash: Stash refused the API key (401)" in daemon.status_line()
    world.stash.reset_log()
    for _ in range(3):
        daemon.poll()
        daemon.drain()
    assert world.stash.requests == []  # no poll, no cover: the probe waits a minute
    assert len(store.dead_letters()) == 1

    if fixed_by == "the key accepted again":
        world.stash.api_key = STASH_KEY
        daemon.poll()
        assert len(store.dead_letters()) == 1  # not before the minute is up
        daemon.clock.tick(61)
    else:
        world.config.stash.api_key = "regenerated-in-stash-settings"
        daemon.clock.tick(1)
        restart(daemon, world)
    daemon.poll()
    daemon.drain()

    assert world.app.store.dead_letters() == [] and world.app.store.jobs() == []
    assert in_step_with_covers(world, covers) == []
    assert collect_status(world.app.store)["servers"]["stash"]["problem"] is None


def test_a_plex_token_refused_at_a_poll_dead_letters_nothing_and_heals(world, daemon):
    daemon.poll()
    world.stash.update_scene("2", title="Edited while Plex refuses the token")
    world.plex.token = "token-of-another-account"

    daemon.poll()  # Stash's changes are queued first, then Plex refuses the listing
    daemon.drain()

    store = world.app.store
    assert store.dead_letters() == [] and [job.scene_id for job in store.jobs()] == ["2"]
    plex_health = store.health("plex")
    assert plex_health.problem == "refused" and "401" in plex_health.message
    assert plex_health.failed_polls == 1
    assert daemon.verdict().line.startswith("Plex: Plex refused the token (401)")
    world.plex.token = PLEX_TOKEN
    daemon.clock.tick(61)
    daemon.poll()

    assert world.item("2").title == "Edited while Plex refuses the token"
    assert store.jobs() == [] and store.health("plex").problem is None
    assert daemon.verdict().healthy


def test_a_wrong_library_name_makes_the_daemon_unhealthy(world, daemon):
    world.config.plex.libraries = ["Adult videos"]
    restart(daemon, world)

    daemon.poll()

    judged = daemon.verdict()
    assert not judged.healthy
    assert judged.line.startswith("Plex: ") and "'Adult videos' not found" in judged.line


def test_a_plex_token_refused_in_a_drain_dead_letters_one_job_and_heals(world, daemon):
    daemon.poll()
    for scene_id in ("1", "2", "3"):
        world.stash.update_scene(scene_id, title=f"Edited {scene_id} before the refusal")
    world.app.engine.poll()
    world.plex.token = "token-of-another-account"

    daemon.drain()

    store = world.app.store
    (letter,) = store.dead_letters()  # the job in hand; the batch's others wait
    assert "401" in letter.error_message and len(store.jobs()) == 2
    assert all(job.retries == 0 for job in store.jobs())
    world.plex.reset_log()
    daemon.drain()
    assert world.plex.requests == []  # no more Plex work until the probe is due
    world.plex.token = PLEX_TOKEN
    daemon.clock.tick(61)
    daemon.poll()

    assert store.dead_letters() == [] and store.jobs() == []
    assert [world.item(n).title for n in ("1", "2", "3")] == [
        f"Edited {n} before the refusal" for n in ("1", "2", "3")]
