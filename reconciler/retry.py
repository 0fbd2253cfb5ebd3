"""Retry rules: which error class gets how many retries, and how long to wait.

Pure logic. A job's retries and its next attempt time are data on the job; the
worker asks `decide()` what to do after a failure and stores the answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from reconciler.config import RetryConfig
from reconciler.errors import NOT_FOUND, PERMANENT, TRANSIENT, StashplexError


@dataclass(frozen=True)
class Backoff:
    """Full jitter: the delay before retry n is uniform in [0, min(cap, base * 2**n)]."""

    max_retries: int
    base: float
    cap: float

    def ceiling(self, retry_index: int) -> float:
        return min(self.cap, self.base * (2 ** min(retry_index, 62)))

    def delay(self, retry_index: int, rng: random.Random | None = None) -> float:
        return (rng or random).uniform(0, self.ceiling(retry_index))


@dataclass(frozen=True)
class Decision:
    """What happens to a job after a failure."""

    dead_letter: bool
    delay: float = 0.0


class RetryRules:
    """The three classes of the table in the README, with parameters from the config."""

    def __init__(self, config: RetryConfig, rng: random.Random | None = None) -> None:
        self.backoff = {
            TRANSIENT: Backoff(
                config.transient.max_retries, config.transient.base, config.transient.cap
            ),
            NOT_FOUND: Backoff(
                config.not_found.max_retries, config.not_found.base, config.not_found.cap
            ),
        }
        self.rng = rng or random.Random()

    def decide(self, error: StashplexError, retries_spent: int) -> Decision:
        """`retries_spent` counts earlier retries of this job for this same error class.

        An error that `waits` (its server unreachable or answering 503) spends nothing, as
        does one that says when it is `due_in`."""
        if error.due_in is not None:
            return Decision(False, error.due_in)
        if error.waits:
            rule = self.backoff[TRANSIENT]
            return Decision(False, rule.delay(0, self.rng))
        if error.error_class == PERMANENT:
            return Decision(True)
        rule = self.backoff[error.error_class]
        if retries_spent >= rule.max_retries:
            return Decision(True)
        return Decision(False, rule.delay(retries_spent, self.rng))
