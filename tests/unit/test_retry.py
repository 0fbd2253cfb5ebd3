import random

import pytest

from reconciler.config import RetryConfig
from reconciler.errors import (
    InvalidSceneData,
    PlexNotFound,
    PlexPermanentError,
    PlexTemporaryError,
    PlexUnreachable,
    TransientError,
)
from reconciler.retry import Backoff, RetryRules


@pytest.mark.parametrize(
    "n, ceiling", [(0, 5), (1, 10), (2, 20), (3, 40), (4, 80), (5, 80), (40, 80)]
)
def test_transient_delay_stays_within_full_jitter_bounds(n, ceiling):
    backoff = Backoff(max_retries=5, base=5, cap=80)
    rng = random.Random(n)
    delays = [backoff.delay(n, rng) for _ in range(2000)]
    assert all(0 <= d <= ceiling for d in delays)
    # full jitter spreads over the whole interval, not just near its top
    assert min(delays) < ceiling * 0.05 and max(delays) > ceiling * 0.95


def test_not_found_backoff_uses_30s_base_and_600s_cap():
    rules = RetryRules(RetryConfig())
    not_found = rules.backoff["not_found"]
    assert [not_found.ceiling(n) for n in range(6)] == [30, 60, 120, 240, 480, 600]
    assert not_found.max_retries == 12
    transient = rules.backoff["transient"]
    assert [transient.ceiling(n) for n in range(6)] == [5, 10, 20, 40, 80, 80]
    assert transient.max_retries == 5


def test_transient_gets_five_retries_then_dead_letter():
    rules = RetryRules(RetryConfig(), random.Random(1))
    error = PlexTemporaryError("503")
    outcomes = [rules.decide(error, spent).dead_letter for spent in range(7)]
    assert outcomes == [False] * 5 + [True, True]


def test_not_found_gets_twelve_retries():
    rules = RetryRules(RetryConfig(), random.Random(1))
    outcomes = [rules.decide(PlexNotFound("x"), spent).dead_letter for spent in range(13)]
    assert outcomes == [False] * 12 + [True]


@pytest.mark.parametrize("error", [PlexPermanentError("401"), InvalidSceneData("bad date")])
def test_permanent_errors_go_straight_to_the_dead_letter_queue(error):
    decision = RetryRules(RetryConfig()).decide(error, 0)
    assert decision.dead_letter


def test_unreachable_plex_spends_no_retry_even_past_the_limit():
    rules = RetryRules(RetryConfig(), random.Random(1))
    decision = rules.decide(PlexUnreachable("refused"), 99)
    assert not decision.dead_letter
    assert isinstance(PlexUnreachable("x"), TransientError)


def test_retry_parameters_come_from_config():
    config = RetryConfig()
    config.transient.base, config.transient.cap, config.transient.max_retries = 0.01, 0.02, 2
    rules = RetryRules(config, random.Random(3))
    assert rules.decide(PlexTemporaryError("x"), 0).delay <= 0.01
    assert rules.decide(PlexTemporaryError("x"), 2).dead_letter
