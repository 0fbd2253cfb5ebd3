"""Two walks over one listing, up and down, meeting in the middle: whatever the order their
answers arrive in, and whatever is added or deleted meanwhile, every row that was there all
along is kept once, and neither walk asks much past the meeting point."""

from __future__ import annotations

import random

import pytest

from reconciler.walks import DOWN, UP, MeetingWalks


def page(ids: set[int], side: str, last: int | None, size: int) -> list[int]:
    """What a server answers: `size` ids after `last` going up, or before it going down."""
    if side == UP:
        return sorted(i for i in ids if last is None or i > last)[:size]
    return sorted((i for i in ids if last is None or i < last), reverse=True)[:size]


def walk_both(ids: set[int], size: int, rng: random.Random, churn: bool) -> tuple[dict, int]:
    """Both walks to their end, their requests answered in a random order, some rows added
    (above the highest, as a new scene's id is) or deleted in between: (kept by side, the
    number of requests)."""
    walks = MeetingWalks()
    last: dict[str, int | None] = {UP: None, DOWN: None}
    kept: dict[str, list[int]] = {UP: [], DOWN: []}
    going = [UP, DOWN]
    asked = 0
    while going:
        side = rng.choice(going)
        if walks.met:
            going.remove(side)
            continue
        if churn and rng.random() < 0.3:
            if rng.random() < 0.5 and ids:
                ids.discard(rng.choice(sorted(ids)))
            else:
                ids.add(max(ids, default=0) + 1)
        answer = page(ids, side, last[side], size)
        asked += 1
        count, more = walks.keep(side, answer, len(answer) == size)
        kept[side].extend(answer[:count])
        if not more:
            going.remove(side)
        else:
            last[side] = answer[-1]
    return kept, asked


@pytest.mark.parametrize("seed", range(40))
def test_every_row_there_all_along_is_kept_once(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.randint(1, 5)
    ids = set(rng.sample(range(1, 200), rng.randint(0, 60)))
    churn = seed % 2 == 1
    before = set(ids)
    kept, asked = walk_both(ids, size, rng, churn)
    every = kept[UP] + kept[DOWN]
    assert len(every) == len(set(every)), "a row kept by both walks"
    assert before & ids <= set(every), "a row neither walk kept"
    assert kept[UP] == sorted(kept[UP]) and kept[DOWN] == sorted(kept[DOWN], reverse=True)
    if not churn:
        assert asked <= len(before) // size + 2  # one walk alone asks len // size + 1


def test_the_walks_meet_where_the_ids_cross() -> None:
    walks = MeetingWalks()
    assert walks.keep(UP, [1, 2, 3], full=True) == (3, True)
    assert walks.keep(DOWN, [9, 8, 7], full=True) == (3, True)
    assert walks.keep(DOWN, [6, 5, 4], full=True) == (3, True)
    assert walks.keep(UP, [4, 5, 6], full=True) == (0, False)
    assert walks.met
    assert walks.keep(DOWN, [3, 2, 1], full=True) == (0, False)


def test_a_short_page_ends_both_walks() -> None:
    walks = MeetingWalks()
    assert walks.keep(UP, [1, 2, 3], full=True) == (3, True)
    assert walks.keep(DOWN, [5, 4], full=False) == (2, False)  # nothing below 4 but UP's
    assert walks.met
    assert walks.keep(UP, [4, 5], full=False) == (0, False)
