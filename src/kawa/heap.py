"""The Python heap of a long-running kawa: what its cyclic garbage collector scans, and how often.

A started kawa holds about 110,000 tracked Python objects that live as long as the process
(its modules, the API kinds' models and schemas, the store's caches), and CPython's collector
walks every one of them in each full collection. With its default thresholds (700
allocations, then 10 and 10 collections) the events in flight, which reference counting alone
frees, crossed the young threshold every few dozen requests, were promoted while alive and
so kept calling for full collections: in one saturated broker run 11,528 young, 1,047 middle
and 86 full collections took 10.4 s of a process that used about 40 s of CPU
(docs/performance.md, issue 18).

:func:`settle` is called once a ``kawa up`` process is ready: it collects once, moves every
object alive then to the permanent generation (:func:`gc.freeze`, which no later collection
scans), and raises the first generation's threshold so that the objects of events in flight,
which reference counting frees, no longer set off collections that promote them. Garbage in
reference cycles is still collected, later and in one go. Not called for kawas run inside
another program (the tests): freezing is process-wide and would keep that program's garbage.
"""

from __future__ import annotations

import gc
from typing import Final

THRESHOLDS: Final = (20_000, 50, 100)
"""Allocations (net of deallocations) of tracked objects before a generation-0 collection,
then generation-0 collections before a generation-1 one, then generation-1 collections before
a full one (CPython also waits until a full collection would scan 25 % more objects than the
last one left)."""


def settle() -> int:
    """Collect, freeze what is alive and raise the thresholds; the objects frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return gc.get_freeze_count()
