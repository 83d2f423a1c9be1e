"""The seam between an ApiServerSource and the API server it watches.

A :class:`Cluster` is one API server: kawa's own resource store (:mod:`.local`) or a remote
Kubernetes-compatible API server reached through a kubeconfig (:mod:`.remote`). It answers
the questions the reconciler asks (what is this kind called, which namespaces match a
selector, does the ServiceAccount exist, which permissions are missing) and hands out an
:class:`ObjectWatcher` per kind and namespace for the adapter.

An :class:`ObjectWatcher` speaks Kubernetes' list-then-watch protocol: :meth:`~ObjectWatcher.
list` returns the objects and the list's resourceVersion; :meth:`~ObjectWatcher.watch` yields
the changes after a resourceVersion (``BOOKMARK`` changes only move the resourceVersion on).
A watch may end at any time (the caller watches again from the last resourceVersion it saw);
it raises :class:`kawa.errors.GoneError` when that resourceVersion is too old (the caller
lists again) and :class:`kawa.errors.ForbiddenError` when the credentials may not watch.
ResourceVersions are opaque strings, compared only for equality. Both watchers pass the same
contract tests (``tests/sources/apiserver/test_watchers.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from kawa.apis.label_selector import LabelSelector

Obj = dict[str, Any]
ChangeType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]


@dataclass(frozen=True, slots=True)
class KindInfo:
    """How an API server names one kind: ``plural``, its API ``group`` ("" for core) and
    whether it is ``namespaced``; ``api_version`` and ``kind`` as the source asked for them."""

    api_version: str
    kind: str
    plural: str
    group: str
    namespaced: bool

    @property
    def resource(self) -> str:
        """``plural.group`` (Kubernetes' name of the resource; ``plural`` for core kinds)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[Obj]
    resource_version: str


@dataclass(frozen=True, slots=True)
class WatchChange:
    """One change: the object after it (before it, for ``DELETED``)."""

    type: ChangeType
    object: Obj
    resource_version: str


class ObjectWatcher(Protocol):
    """List-then-watch over the objects of one kind in one namespace ("" for all/cluster)."""

    async def list(self) -> Listing: ...

    def watch(self, since: str) -> AsyncIterator[WatchChange]: ...


class Cluster(Protocol):
    """One API server an ApiServerSource can watch."""

    @property
    def url(self) -> str:
        """The API server's URL: the ``source`` of the events."""
        ...

    async def kind_info(self, api_version: str, kind: str) -> KindInfo:
        """How the server names the kind; :class:`kawa.errors.NotFoundError` if unknown."""
        ...

    async def namespaces(self, selector: LabelSelector) -> list[str]:
        """The names of the namespaces whose labels match ``selector``, sorted."""
        ...

    async def namespace_exists(self, name: str) -> bool:
        """Whether the namespace exists (a namespace that left a source's selection because it
        was deleted gets ``delete`` events for the objects announced in it)."""
        ...

    async def missing_service_account(self, service_account: tuple[str, str]) -> str | None:
        """Why the source cannot act as ``service_account`` ``(namespace, name)``, e.g.
        ``ServiceAccount "x" not found in namespace default``; None when it can (or when the
        cluster does not use it: a remote one uses the kubeconfig's credentials)."""
        ...

    async def missing_permissions(
        self, info: KindInfo, namespace: str, service_account: tuple[str, str]
    ) -> list[str]:
        """What the source may not do to watch ``info`` in ``namespace`` ("" = cluster
        scope) as ``service_account`` ``(namespace, name)``: one message per missing
        permission (empty: all granted)."""
        ...

    def watcher(self, info: KindInfo, namespace: str) -> ObjectWatcher: ...
