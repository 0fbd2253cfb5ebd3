"""Python's cycle collector around a full pass, which holds hundreds of thousands of objects.

Each of the collector's full passes walks every object alive. A full pass of stashplex
keeps the Plex catalog and the pages in hand alive, hundreds of thousands of objects, and
makes a few more for each scene, item and job; left alone, the collector walked the whole
catalog again every few thousand of those.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The collector off for a while (as it was, after): for a sweep, whose short-lived
    objects are freed by reference counting (it builds no cycles worth collecting early);
    what is left over is collected once the collector is back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def sparing_what_lives() -> Iterator[None]:
    """What is alive now (the catalog, above all) left out of the collector's passes for a
    while (`gc.freeze`) and handed back after: for draining a full pass's queue, whose
    collections then walk only what the jobs make. Garbage cycles are collected first, so
    none is kept from the collector for longer than the drain."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
