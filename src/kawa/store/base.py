"""The resource store protocol: where every Kubernetes-shaped object kawa knows is kept.

Objects are plain dicts (``apiVersion``, ``kind``, ``metadata``, ``spec``, ``status``), stored
under a :class:`ResourceKey` ``(resource, namespace, name)`` where ``resource`` is
``plural.group`` (``brokers.eventing.knative.dev``; core kinds have no group: ``namespaces``).
The store owns the bookkeeping metadata, as a Kubernetes API server does: ``uid`` (new at every
create), ``creationTimestamp``, ``resourceVersion`` (a decimal string from one counter across
the whole store, increasing with every change, so watches can resume from any point) and
``generation`` (1 at create, bumped when anything but ``metadata`` and ``status`` changes, and
when a deletion starts). It also keeps finalizers (:mod:`kawa.store.finalizers`): an object
with finalizers is only marked deleting by a delete, and goes when an update takes its last
finalizer away, whoever the caller (the API, a controller, the kubelet).

Every backend, including one shared by several processes, shows the same behaviour: once the
call that made a change returns, every ``get`` and ``list`` (of any process) sees it and every
open watch of its resource delivers it, each change once, in resourceVersion order; a caller
cancelled during a write leaves it made entirely (and announced) or not at all. The store has no
bookmarks: the API server makes them from the resourceVersions its watch delivers.

Callers: the API server (CRUD and watch for clients), the controllers (watch and status
updates) and the broker data plane (watch triggers). Backends: :mod:`kawa.store.sqlite`,
:mod:`kawa.store.jetstream` (a NATS KV bucket several processes share); :mod:`kawa.runtime`
picks one by name. The contract tests every backend passes live in
``tests/store/contract.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Obj = dict[str, Any]
WatchType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    """Where one object lives: ``resource`` is ``plural.group``; ``namespace`` "" if global."""

    resource: str
    namespace: str
    name: str

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.resource} {ns}{self.name}"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change seen by a watch: the object as it is after the change (before, for DELETED)."""

    type: WatchType
    object: Obj
    resource_version: int


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[Obj]
    resource_version: int


class ResourceStore(Protocol):
    """CRUD plus watch over Kubernetes-shaped objects (see the module docstring)."""

    async def get(self, key: ResourceKey) -> Obj:
        """The object (a copy the caller may change), or :class:`kawa.errors.NotFoundError`."""
        ...

    async def list(self, resource: str, namespace: str | None = None) -> ListResult:
        """Every object of ``resource`` (in ``namespace``, or all namespaces when None), sorted
        by namespace then name, with the store's resourceVersion at the time of the list (a
        watch from it sees exactly the later changes)."""
        ...

    async def create(self, key: ResourceKey, obj: Obj, *, uid: str | None = None) -> Obj:
        """Store a new object; :class:`kawa.errors.AlreadyExistsError` if it exists.

        ``metadata.name`` and ``namespace`` come from ``key``; the bookkeeping metadata given
        in ``obj`` is replaced and its deletion fields dropped. The uid is a new one, or
        ``uid`` when the caller chose it before (the API server does, as Kubernetes' does
        before admission: a Job's generated selector names it). Returns the object as stored.
        """
        ...

    async def update(
        self,
        key: ResourceKey,
        obj: Obj,
        *,
        status_only: bool = False,
        managed_fields: Sequence[Any] | None = None,
    ) -> Obj:
        """Replace an object; returns it as stored, or NotFoundError.

        A ``metadata.resourceVersion`` in ``obj`` must match the stored one, else
        ConflictError (optimistic concurrency: of concurrent updates from one version, one
        wins); without one the update is unconditional. The stored ``uid``,
        ``creationTimestamp``, ``generation`` and ``status`` are kept; ``status_only`` keeps
        everything but ``status`` instead (no ``status`` in ``obj`` clears it), and
        ``metadata.managedFields`` too unless ``managed_fields`` is given (an API status
        write records its field manager; ``[]`` clears them). An update
        that changes nothing is not a change: same resourceVersion, no watch event.
        The first ``deletionTimestamp`` bumps ``generation``. An update that leaves an object
        being deleted (no grace period pending) without finalizers removes it
        (:func:`kawa.store.finalizers.finished`): watches see ``DELETED`` (the object as it
        was stored), and the caller gets ``obj`` with the deletion's resourceVersion.
        """
        ...

    async def delete(self, key: ResourceKey) -> Obj:
        """Remove and return the object (with the deletion's resourceVersion), or
        NotFoundError. An object with finalizers (:func:`kawa.store.finalizers.pending`)
        stays: it is marked deleting (:func:`kawa.store.finalizers.mark_deleting`; a
        ``MODIFIED`` event when that changed it) and returned as stored."""
        ...

    def watch(
        self, resource: str, namespace: str | None = None, since: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        """Changes after resourceVersion ``since`` (None: from now), then live, until closed.

        A change made while the watch replays its backlog is delivered once, in order.
        :class:`kawa.errors.GoneError` is raised (by the first step of the iteration) when
        ``since`` is older than the retained history. Iteration ends when the store is closed;
        cancelling the task that iterates (or ``aclose()``) releases the watch.
        """
        ...

    async def close(self) -> None:
        """End every watch and release files and threads; the store is unusable after."""
        ...
