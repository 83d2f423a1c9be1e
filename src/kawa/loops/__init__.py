"""Loop detection: the routes on which an event can come back to a Trigger (or Subscription,
or flow) that takes it again, found from the objects of a namespace before any event runs.

:func:`topology` reads the routes (:mod:`kawa.loops.topology`), :func:`find_loops` finds the
loops on them (:mod:`kawa.loops.search`, deciding filters with a witness event,
:mod:`kawa.loops.witness`), and :func:`message` says one loop in a line. The rule, for what
the objects do not say: a reply whose type is neither declared (``kawa.dev/reply-types``),
nor set literally by an EventTransform, nor observed leads nowhere, so kawa warns only of a
loop that is certain (events passed on unchanged) or that follows declared types. Pure: no
I/O, bounded cost. Used by :mod:`kawa.apiserver.loops` (the ``Warning`` header at apply
time), :mod:`kawa.controllers.loops` (the Trigger's ``LoopFree`` condition) and
:mod:`kawa.broker.loops` (the report of an event whose TTL ran out). ADR 0074.
"""

from kawa.loops.search import MAX_STATES, Loop, Step, find_loops, loop_of
from kawa.loops.topology import (
    KINDS,
    OWNERS,
    RESOURCE_KINDS,
    Hop,
    ObjectKey,
    Out,
    Place,
    Topology,
    topology,
)
from kawa.loops.witness import DEFAULTS


def message(loop: Loop) -> str:
    """One loop in a line: its route, and which events go round it."""
    first = next((step for step in loop.steps if step.via), None)
    who = f"{first.kind} {first.name}" if first is not None else "it"
    what = (
        "events" if loop.event_type == DEFAULTS["type"] else f"events of type {loop.event_type!r}"
    )
    return f"event loop: {loop.text()} ({what} come back to {who} until their TTL runs out)"


__all__ = [
    "KINDS",
    "MAX_STATES",
    "OWNERS",
    "RESOURCE_KINDS",
    "Hop",
    "Loop",
    "ObjectKey",
    "Out",
    "Place",
    "Step",
    "Topology",
    "find_loops",
    "loop_of",
    "message",
    "topology",
]
