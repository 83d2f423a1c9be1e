"""The ``Warning`` of a write that puts an object on an event loop (kawa's loop detection).

A create, update or patch (server-side apply included, dry runs too) of an object of a kind
the loop analysis reads (:data:`kawa.loops.RESOURCE_KINDS`) is analysed with the namespace's
other objects (:mod:`kawa.reconciler.loops`): for each loop the written object would be on,
the response carries a ``Warning: 299 - "event loop: ..."`` header (kubectl prints
``Warning: event loop: ...``). The write itself is not refused: a loop may be wanted, and the
broker's TTL ends it. The channels and subscriptions a flow or Channel makes for itself are
not analysed (their owner's spec says the route). A failure of the analysis is logged and
leaves the write alone, and so does an analysis slower than :data:`ANALYSIS_TIME`. Called by
:mod:`kawa.apiserver.writes`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from kawa import loops
from kawa.apiserver.requests import Target
from kawa.reconciler.loops import namespace_loops
from kawa.store.base import Obj, ResourceStore

log = logging.getLogger(__name__)

ANALYSIS_TIME: Final = 2.0
"""Seconds a write waits for its loop analysis at most (the store's lists of the namespace,
slow on a JetStream cluster that just lost a server): past them it is stored without the
warning."""


def _owned(obj: Obj) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(o, dict) and o.get("kind") in loops.OWNERS for o in owners)


async def loop_warnings(store: ResourceStore, target: Target, obj: Obj) -> list[str]:
    """The warnings of writing ``obj`` (stored form) to ``target``: one per loop it would be
    on."""
    rk = target.kind
    if target.subresource or not target.namespace or (rk.group, rk.kind) not in loops.KINDS:
        return []
    if _owned(obj):
        return []
    name = str((obj.get("metadata") or {}).get("name") or "")
    try:
        async with asyncio.timeout(ANALYSIS_TIME):
            found = await namespace_loops(store, target.namespace, written=obj)
    except TimeoutError:  # nor hold it up: the Triggers' LoopFree condition comes later
        log.info(
            "loop analysis of %s %s/%s took over %g s: written without it",
            rk.kind,
            target.namespace,
            name,
            ANALYSIS_TIME,
        )
        return []
    except Exception:  # the analysis must never fail a write
        log.exception("loop analysis of %s %s/%s failed", rk.kind, target.namespace, name)
        return []
    return [
        loops.message(loop.starting_at(rk.kind, name))
        for loop in found
        if (rk.kind, name) in loop.members
    ]
