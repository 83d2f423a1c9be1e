"""The resource store protocol: where every Kubernetes-shaped object kawa knows is kept.

Objects are plain dicts (``apiVersion``, ``kind``, ``metadata``, ``spec``, ``status``), stored
under a :class:`ResourceKey` ``(resource, namespace, name)`` where ``resource`` is
``plural.group`` (``brokers.eventing.knative.dev``; core kinds have no group: ``namespaces``).
The store owns the bookkeeping metadata, as a Kubernetes API server does: ``uid``,
``creationTimestamp``, ``resourceVersion`` (one counter across the store, so watches can
resume from any point) and ``generation`` (bumped when anything but ``metadata`` and
``status`` changes).

Callers: the API server (CRUD and watch for clients), the controllers (watch and status
updates) and the broker data plane (watch triggers). Backends: :mod:`kawa.store.sqlite`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
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
        """The object, or :class:`kawa.errors.NotFoundError`."""
        ...

    async def list(self, resource: str, namespace: str | None = None) -> ListResult:
        """Every object of ``resource`` (in ``namespace``, or all namespaces when None)."""
        ...

    async def create(self, key: ResourceKey, obj: Obj) -> Obj:
        """Store a new object; :class:`kawa.errors.AlreadyExistsError` if it exists."""
        ...

    async def update(self, key: ResourceKey, obj: Obj, *, status_only: bool = False) -> Obj:
        """Replace an object. A ``metadata.resourceVersion`` in ``obj`` must match the stored
        one (else ConflictError). ``status_only`` keeps everything but ``status`` as stored."""
        ...

    async def delete(self, key: ResourceKey) -> Obj:
        """Remove and return the object, or NotFoundError."""
        ...

    def watch(
        self, resource: str, namespace: str | None = None, since: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        """Changes after resourceVersion ``since`` (None: from now), then live, until closed.

        :class:`kawa.errors.GoneError` is raised when ``since`` is older than the retained
        history.
        """
        ...

    async def close(self) -> None: ...
