"""Readers: sources read in threads of their own, handed over in order, errors where they arose."""

from __future__ import annotations

import threading

import pytest

from reconciler.readahead import END, Readers


def test_each_source_arrives_whole_and_in_order_then_ends():
    with Readers() as reads:
        reads.add("a", iter(range(5)), ahead=2)
        reads.add("b", iter("xyz"), ahead=1)
        got: dict[str, list] = {"a": [], "b": []}
        for name, item in reads:
            got[name].append(item)
            if item is not END:
                reads.release(name)
    assert got == {"a": [0, 1, 2, 3, 4, END], "b": ["x", "y", "z", END]}


def test_a_source_reads_no_further_ahead_than_allowed():
    produced: list[int] = []
    more = threading.Event()

    def source():
        for n in range(10):
            produced.append(n)
            if n == 2:
                more.set()
            yield n

    with Readers() as reads:
        reads.add("a", source(), ahead=3)
        stream = iter(reads)
        assert next(stream) == ("a", 0)
        assert more.wait(10)
        assert next(stream) == ("a", 1) and next(stream) == ("a", 2)
        # three read, none released: the reader waits for the consumer
        assert produced == [0, 1, 2]
        reads.release("a")
        assert next(stream) == ("a", 3)
    assert produced == [0, 1, 2, 3]


def test_what_a_source_raises_reaches_the_consumer_after_what_it_read_before():
    def source():
        yield 1
        raise ValueError("page 2 unreadable")

    seen = []
    with pytest.raises(ValueError, match="page 2 unreadable"), Readers() as reads:
        reads.add("a", source(), ahead=5)
        for _, item in reads:
            seen.append(item)
    assert seen == [1]


def test_leaving_stops_the_reader_and_closes_its_source():
    closed = threading.Event()

    def source():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    with Readers() as reads:
        reads.add("a", source(), ahead=1)
        assert next(iter(reads)) == ("a", 0)
    assert closed.is_set()
