"""The garbage collector's index: who owns whom, by uid, as the watches last reported it.

Kubernetes' garbage collector keeps a graph of every object with owners; this is kawa's: for
each object whose ``metadata.ownerReferences`` is not empty a :class:`Node` (its key, uid,
references, whether it is being deleted), and for each owner uid the uids of its dependents,
so that an owner's deletion finds its dependents without listing every kind. Owners
themselves need no node: whether one exists is asked of the store, by name, and its uid
compared (:func:`resolve` says where to look). Pure; fed by
:class:`kawa.controllers.garbage_collector.collector.GarbageCollector`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kawa.apis import meta
from kawa.apis.kinds import ResourceKind
from kawa.apis.registry import Scheme
from kawa.store.base import ResourceKey
from kawa.store.finalizers import FOREGROUND, deleting, pending


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """One well-formed entry of ``metadata.ownerReferences`` (all four names set)."""

    api_version: str
    kind: str
    name: str
    uid: str
    block: bool
    """``blockOwnerDeletion``: a foreground deletion of the owner waits for this dependent."""


def owner_refs(obj: Mapping[str, Any]) -> tuple[OwnerRef, ...]:
    """The object's owner references; an entry missing a name, kind, apiVersion or uid is
    left out (it can name no owner, so it never makes the object garbage)."""
    found = meta.metadata_of(obj).get("ownerReferences")
    out: list[OwnerRef] = []
    for ref in found if isinstance(found, list) else ():
        if not isinstance(ref, Mapping):
            continue
        fields = [ref.get(k) for k in ("apiVersion", "kind", "name", "uid")]
        if all(isinstance(f, str) and f for f in fields):
            api_version, kind, name, uid = (str(f) for f in fields)
            block = ref.get("blockOwnerDeletion") is True
            out.append(OwnerRef(api_version, kind, name, uid, block))
    return tuple(out)


def kind_of(scheme: Scheme, ref: OwnerRef) -> ResourceKind | None:
    """The kind ``ref`` names: its apiVersion and kind, else the same kind of the same group
    in another version; ``None`` when kawa serves no such kind."""
    for rk in scheme.kinds:
        if rk.kind == ref.kind and ref.api_version in rk.served_api_versions:
            return rk
    group = ref.api_version.rpartition("/")[0]
    for rk in scheme.kinds:
        if rk.kind == ref.kind and rk.group == group:
            return rk
    return None


def resolve(scheme: Scheme, ref: OwnerRef, dependent: ResourceKey) -> ResourceKey | None:
    """Where the owner ``ref`` names must be for ``dependent``: a namespaced owner in the
    dependent's namespace, a cluster-scoped one anywhere. ``None`` when it can be nowhere:
    an unknown kind, or a namespaced owner of a cluster-scoped object (Kubernetes keeps such
    an object rather than guess)."""
    rk = kind_of(scheme, ref)
    if rk is None or (rk.namespaced and not dependent.namespace):
        return None
    return ResourceKey(rk.resource, dependent.namespace if rk.namespaced else "", ref.name)


@dataclass(frozen=True, slots=True)
class Node:
    """An object with owners, as last seen."""

    key: ResourceKey
    uid: str
    owners: tuple[OwnerRef, ...]
    deleting: bool
    foreground: bool
    """Being deleted in the foreground (its ``foregroundDeletion`` finalizer)."""

    def ref_to(self, uid: str) -> OwnerRef | None:
        return next((r for r in self.owners if r.uid == uid), None)


class Graph:
    """Nodes by uid, and the dependents of each owner uid."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._dependents: dict[str, set[str]] = {}
        self._by_resource: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, uid: str) -> Node | None:
        return self._nodes.get(uid)

    def observe(self, key: ResourceKey, obj: Mapping[str, Any]) -> tuple[Node | None, Node | None]:
        """Record ``obj`` (stored at ``key``) as it is now; ``(before, after)`` its nodes
        (``None``: no owners)."""
        uid = str(meta.metadata_of(obj).get("uid") or "")
        before = self.forget(uid)
        refs = owner_refs(obj)
        if not uid or not refs:
            return before, None
        marked = deleting(obj)
        node = Node(key, uid, refs, marked, marked and FOREGROUND in pending(obj))
        self._nodes[uid] = node
        self._by_resource.setdefault(key.resource, set()).add(uid)
        for ref in refs:
            self._dependents.setdefault(ref.uid, set()).add(uid)
        return before, node

    def forget(self, uid: str) -> Node | None:
        """Drop the node of ``uid`` (gone); the node it had, if any."""
        node = self._nodes.pop(uid, None)
        if node is None:
            return None
        self._by_resource.get(node.key.resource, set()).discard(uid)
        for ref in node.owners:
            others = self._dependents.get(ref.uid)
            if others is not None:
                others.discard(uid)
                if not others:
                    del self._dependents[ref.uid]
        return node

    def dependents(self, owner: str) -> list[Node]:
        """The nodes naming ``owner`` (a uid) among their owners, sorted by key."""
        found = (self._nodes[u] for u in self._dependents.get(owner, ()))
        return sorted(found, key=lambda n: n.key)

    def has_dependents(self, owner: str) -> bool:
        return bool(self._dependents.get(owner))

    def of_resource(self, resource: str) -> list[Node]:
        """Every node of ``resource``."""
        return [self._nodes[u] for u in self._by_resource.get(resource, ())]

    def forget_missing(self, resource: str, present: Iterable[str]) -> list[Node]:
        """Drop the nodes of ``resource`` whose uid is not in ``present`` (a fresh list of
        the resource); the nodes dropped."""
        keep = set(present)
        return [
            node
            for node in self.of_resource(resource)
            if node.uid not in keep and self.forget(node.uid) is not None
        ]
