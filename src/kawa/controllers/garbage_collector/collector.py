"""The garbage collector: deletes dependents whose owners are gone, and carries out the
``Foreground`` and ``Orphan`` deletions the API server recorded as finalizers.

As Kubernetes' garbage collector (``attemptToDeleteItem``, ``processDeletingDependentsItem``,
``attemptToOrphanWorker``), for one object at a time (a key of the work queue):

- **An object being deleted** with the ``orphan`` finalizer: every dependent loses its
  reference to it, then the finalizer goes (the store then removes it, unless other
  finalizers hold it). With ``foregroundDeletion``: each dependent not yet being deleted is
  looked at (below); once no dependent with ``blockOwnerDeletion: true`` is left, the
  finalizer goes. Any other object being deleted is left to whoever holds it.
- **An object with owners**: each reference is *solid* (the owner exists, same uid),
  *dangling* (no object of that kind and name where the owner must be, or one with another
  uid) or *waiting* (the owner is being deleted in the foreground); a reference kawa cannot
  resolve (unknown kind, a namespaced owner of a cluster-scoped object) counts as solid.
  With a solid owner, dangling and waiting references are taken out of the list; without
  one, the object is deleted: in the foreground when an owner waits and it has dependents
  of its own, else as its own finalizers say (the store keeps an object with finalizers).

The work comes from watches of every kind of the scheme, which keep the graph
(:mod:`.graph`): a new object with owners, changed references, an owner gone (its
dependents), a dependent gone or unblocked (its owners, in case one waits), a deletion with
``orphan`` / ``foregroundDeletion``. At start every kind is listed before any work is done,
so dependents orphaned while kawa was down are collected then. Writes carry the
resourceVersion read (a conflict retries at once). Built by
:func:`kawa.controllers.garbage_collector.garbage_collector`.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kawa.apis.conditions import format_time
from kawa.apis.registry import SCHEME, Scheme
from kawa.controllers.garbage_collector.graph import Graph, Node, OwnerRef, kind_of, resolve
from kawa.controllers.garbage_collector.graph import owner_refs as refs_of
from kawa.errors import ConflictError, NotFoundError, TemporaryError
from kawa.reconciler.informer import inform, list_retrying
from kawa.reconciler.loop import Controller
from kawa.store import finalizers
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

NAME = "garbage-collector"


@dataclass(slots=True)
class References:
    """An object's owner references, sorted as the module docstring says."""

    solid: list[OwnerRef] = field(default_factory=list)
    dangling: list[OwnerRef] = field(default_factory=list)
    waiting: list[OwnerRef] = field(default_factory=list)


class GarbageCollector:
    """See the module docstring; :meth:`run` until cancelled."""

    name = NAME

    def __init__(self, store: ResourceStore, scheme: Scheme = SCHEME, *, workers: int = 4) -> None:
        self._store = store
        self._scheme = scheme
        self.graph = Graph()
        self._controller = Controller(NAME, store, self.reconcile, [], workers=workers, resync=None)
        self.synced = asyncio.Event()
        """Set once every kind has been listed into the graph (work starts then)."""

    @property
    def queue_idle(self) -> bool:
        return self._controller.queue.idle()

    def _enqueue(self, key: ResourceKey | None) -> None:
        if key is not None:
            self._controller.queue.add(key)

    # -- the watches -------------------------------------------------------------------

    async def run(self) -> None:
        resources = sorted({rk.resource for rk in self._scheme.kinds})
        since: dict[str, int] = {}
        for resource in resources:
            listed = await list_retrying(self._store, resource)
            for obj in listed.items:
                self._observe(resource, WatchEvent("ADDED", obj, listed.resource_version))
            since[resource] = listed.resource_version
        self.synced.set()
        log.debug("%s: %d object(s) with owners", NAME, len(self.graph))
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._controller.run(), name=f"{NAME}-workers")
            for resource in resources:
                tg.create_task(self._follow(resource, since[resource]), name=f"{NAME}-{resource}")

    async def _follow(self, resource: str, since: int) -> None:
        async def changed(event: WatchEvent) -> None:
            self._observe(resource, event)

        async def relisted(items: list[Obj]) -> None:
            """After a relist (history lost): what vanished meanwhile was deleted."""
            present = (str(i["metadata"].get("uid", "")) for i in items)
            for node in self.graph.forget_missing(resource, present):
                self._gone(node.uid, node.key, node.owners)

        await inform(self._store, resource, changed, since=since, on_listed=relisted)

    def _observe(self, resource: str, event: WatchEvent) -> None:
        """Keep the graph and queue the work ``event`` makes (see the module docstring)."""
        obj = event.object
        metadata = obj["metadata"]
        key = ResourceKey(resource, str(metadata.get("namespace") or ""), str(metadata["name"]))
        uid = str(metadata.get("uid") or "")
        if event.type == "DELETED":
            node = self.graph.forget(uid)
            self._gone(uid, key, node.owners if node is not None else refs_of(obj))
            return
        before, after = self.graph.observe(key, obj)
        pending = finalizers.pending(obj)
        if finalizers.deleting(obj) and (
            finalizers.ORPHAN in pending or finalizers.FOREGROUND in pending
        ):
            self._enqueue(key)
        old = before.owners if before is not None else ()
        new = after.owners if after is not None else ()
        if new and (event.type == "ADDED" or old != new):
            self._enqueue(key)
        for ref in old:  # an owner waiting in the foreground may now go
            if ref.block and ref not in new:
                self._enqueue(resolve(self._scheme, ref, key))

    def _gone(self, uid: str, key: ResourceKey, owners: Iterable[OwnerRef]) -> None:
        for dependent in self.graph.dependents(uid):
            self._enqueue(dependent.key)
        for ref in owners:
            self._enqueue(resolve(self._scheme, ref, key))

    # -- the work ----------------------------------------------------------------------

    async def reconcile(self, key: ResourceKey) -> None:
        try:
            obj = await self._store.get(key)
        except NotFoundError:
            return
        if finalizers.deleting(obj):
            pending = finalizers.pending(obj)
            if finalizers.ORPHAN in pending:
                await self._orphan_dependents(key, obj)
            elif finalizers.FOREGROUND in pending:
                await self._delete_dependents(key, obj)
            return
        refs = refs_of(obj)
        if not refs:
            return
        found = await self._classify(key, refs)
        if found.solid:
            drop = {r.uid for r in (*found.dangling, *found.waiting)}
            if drop:
                await self._without_refs(key, obj, drop)
            return
        uid = str(obj["metadata"].get("uid", ""))
        if found.waiting and self.graph.has_dependents(uid):
            await self._delete_in_foreground(key, obj)
            return
        await self._delete(key, uid)

    async def _classify(self, key: ResourceKey, refs: Iterable[OwnerRef]) -> References:
        found = References()
        for ref in refs:
            where = resolve(self._scheme, ref, key)
            if where is None:
                found.solid.append(ref)  # kawa cannot tell: keep the object
                continue
            try:
                owner = await self._store.get(where)
            except NotFoundError:
                found.dangling.append(ref)
                continue
            if str(owner["metadata"].get("uid", "")) != ref.uid:
                found.dangling.append(ref)
            elif finalizers.deleting(owner) and finalizers.FOREGROUND in finalizers.pending(owner):
                found.waiting.append(ref)
            else:
                found.solid.append(ref)
        return found

    def _dependents_of(self, key: ResourceKey, owner: Obj) -> list[Node]:
        """The dependents of ``owner`` (at ``key``) as the graph knows them: those naming its
        uid and name, in its namespace unless it is cluster-scoped."""
        uid = str(owner["metadata"].get("uid", ""))
        out = []
        for node in self.graph.dependents(uid):
            ref = node.ref_to(uid)
            if ref is None or ref.name != key.name:
                continue
            rk = kind_of(self._scheme, ref)
            if rk is not None and rk.namespaced and node.key.namespace != key.namespace:
                continue
            out.append(node)
        return out

    async def _orphan_dependents(self, key: ResourceKey, owner: Obj) -> None:
        uid = str(owner["metadata"].get("uid", ""))
        for node in self._dependents_of(key, owner):
            try:
                dependent = await self._store.get(node.key)
            except NotFoundError:
                continue
            if str(dependent["metadata"].get("uid", "")) == node.uid:
                await self._without_refs(node.key, dependent, {uid})
        await self._remove_finalizer(key, owner, finalizers.ORPHAN)
        log.info("%s: orphaned the dependents of %s", NAME, key)

    async def _delete_dependents(self, key: ResourceKey, owner: Obj) -> None:
        uid = str(owner["metadata"].get("uid", ""))
        blocking = []
        for node in self._dependents_of(key, owner):
            if not node.deleting:
                self._enqueue(node.key)
            ref = node.ref_to(uid)
            if ref is not None and ref.block and await self._exists(node):
                blocking.append(node)
        if blocking:
            return  # each one's deletion brings the owner back here
        await self._remove_finalizer(key, owner, finalizers.FOREGROUND)
        log.info("%s: deleted the dependents of %s in the foreground", NAME, key)

    async def _exists(self, node: Node) -> bool:
        """Whether ``node`` is still stored (a watch may not have said it went yet)."""
        try:
            current = await self._store.get(node.key)
        except NotFoundError:
            current = None
        if current is not None and str(current["metadata"].get("uid", "")) == node.uid:
            return True
        self.graph.forget(node.uid)
        return False

    # -- the writes --------------------------------------------------------------------

    async def _write(self, key: ResourceKey, obj: Obj) -> None:
        """Store ``obj`` if it is still the version read; a conflict retries at once."""
        try:
            await self._store.update(key, obj)
        except NotFoundError:
            return
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err

    async def _without_refs(self, key: ResourceKey, obj: Obj, uids: set[str]) -> None:
        changed = copy.deepcopy(obj)
        metadata = changed["metadata"]
        kept = [
            r
            for r in metadata.get("ownerReferences") or []
            if not (isinstance(r, dict) and r.get("uid") in uids)
        ]
        if kept:
            metadata["ownerReferences"] = kept
        else:
            metadata.pop("ownerReferences", None)
        await self._write(key, changed)
        log.info("%s: %s no longer names owner(s) %s", NAME, key, ", ".join(sorted(uids)))

    async def _remove_finalizer(self, key: ResourceKey, obj: Obj, finalizer: str) -> None:
        changed = copy.deepcopy(obj)
        metadata = changed["metadata"]
        metadata["finalizers"] = [f for f in metadata.get("finalizers") or [] if f != finalizer]
        if not metadata["finalizers"]:
            del metadata["finalizers"]
        await self._write(key, changed)  # removes it when no finalizer is left

    async def _delete_in_foreground(self, key: ResourceKey, obj: Obj) -> None:
        """Delete ``obj`` as ``propagationPolicy: Foreground`` does: ``foregroundDeletion``
        (instead of ``orphan``) and the deletion mark, in one write. Its references are made
        non-blocking first when one of its dependents waits in the foreground too (a cycle,
        as Kubernetes breaks it)."""
        changed = copy.deepcopy(obj)
        metadata = changed["metadata"]
        uid = str(metadata.get("uid", ""))
        if any(n.foreground for n in self.graph.dependents(uid)):
            for ref in metadata.get("ownerReferences") or []:
                if isinstance(ref, dict) and ref.get("blockOwnerDeletion") is True:
                    ref["blockOwnerDeletion"] = False
        kept = finalizers.for_propagation(obj, finalizers.FOREGROUND_POLICY, None)
        if kept is not None:
            metadata["finalizers"] = kept
        finalizers.mark_deleting(changed, format_time(datetime.now(UTC)))
        await self._write(key, changed)
        log.info("%s: deleting %s in the foreground: an owner waits for it", NAME, key)

    async def _delete(self, key: ResourceKey, uid: str) -> None:
        """Delete the object (as its own finalizers say: the store keeps one that has some)
        unless another of the same name took its place."""
        try:
            current = await self._store.get(key)
            if str(current["metadata"].get("uid", "")) != uid:
                return
            await self._store.delete(key)
        except NotFoundError:
            return
        log.info("%s: deleted %s: its owners are gone", NAME, key)
