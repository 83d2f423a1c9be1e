"""The loops of a namespace, read from the resource store: the objects of the kinds the loop
analysis reads (:data:`kawa.loops.RESOURCE_KINDS`), listed once per kind, then analysed
(:mod:`kawa.loops`, pure and bounded).

:func:`namespace_loops` is shared by the API server (the ``Warning`` header of a write that
closes a loop, with the object being written in place of the stored one), the trigger
controller (the ``LoopFree`` condition) and the broker data plane (the report of an event
whose TTL ran out, with the reply types it observed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from kawa import loops
from kawa.store.base import Obj, ResourceStore


async def namespace_objects(store: ResourceStore, namespace: str) -> list[Obj]:
    """The objects of ``namespace`` the loop analysis reads."""
    listed = await asyncio.gather(
        *(store.list(rk.resource, namespace) for rk in loops.RESOURCE_KINDS)
    )
    return [obj for found in listed for obj in found.items]


def _identity(obj: Obj) -> tuple[str, str, str]:
    metadata = obj.get("metadata") or {}
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    return (group, str(obj.get("kind")), str(metadata.get("name")))


async def namespace_loops(
    store: ResourceStore,
    namespace: str,
    *,
    written: Obj | None = None,
    observed: Mapping[loops.ObjectKey, tuple[str, ...]] | None = None,
) -> list[loops.Loop]:
    """The loops of ``namespace``; ``written``: an object about to be stored (it replaces
    the stored one of the same kind and name); ``observed``: reply types seen at run time."""
    objects = await namespace_objects(store, namespace)
    if written is not None:
        key = _identity(written)
        objects = [obj for obj in objects if _identity(obj) != key]
        objects.append(written)
    return loops.find_loops(loops.topology(namespace, objects, observed=observed))
