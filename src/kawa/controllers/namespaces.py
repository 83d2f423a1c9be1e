"""Namespaces: the system ones exist, injection creates Broker ``default``, deletion cascades.

- :func:`ensure_namespaces` creates ``default``, ``kube-system``, ``kube-public``,
  ``kube-node-lease`` and ``knative-eventing`` at start-up, as a cluster has them.
- A namespace labelled ``knative-eventing-injection=enabled`` (the 2019 label the seed
  tutorial uses) or ``eventing.knative.dev/injection=enabled`` gets a Broker named
  ``default`` (Knative's namespace reconciler), labelled as injected; removing the label
  leaves the broker alone, as Knative does.
- Deleting a namespace deletes every object in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from kawa.apis import core
from kawa.apis.registry import BROKER, SCHEME, Scheme
from kawa.errors import ConflictError, NotFoundError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, Watch, own
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

NAMESPACES: Final = core.NAMESPACE.resource
BROKERS: Final = BROKER.resource
SERVICE_ACCOUNTS: Final = core.SERVICE_ACCOUNT.resource
SYSTEM_NAMESPACES: Final = (
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "knative-eventing",
    "knative-serving",
)
INJECTION_LABELS: Final = ("knative-eventing-injection", "eventing.knative.dev/injection")
INJECTED_LABEL: Final = "eventing.knative.dev/namespaceInjected"


def _namespace(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


async def ensure_namespaces(store: ResourceStore, names: Iterable[str] = SYSTEM_NAMESPACES) -> None:
    for name in names:
        try:
            await store.create(ResourceKey(NAMESPACES, "", name), _namespace(name))
        except ConflictError:
            continue


def injection_enabled(namespace: dict[str, Any]) -> bool:
    labels = namespace.get("metadata", {}).get("labels") or {}
    return any(labels.get(label) == "enabled" for label in INJECTION_LABELS)


class NamespaceReconciler:
    def __init__(self, store: ResourceStore, scheme: Scheme = SCHEME) -> None:
        self._store = store
        self._scheme = scheme
        self._recorder = EventRecorder(store, "eventing-controller")

    async def reconcile(self, key: ResourceKey) -> None:
        try:
            namespace = await self._store.get(key)
        except NotFoundError:
            await self._delete_contents(key.name)
            return
        await self._ensure_default_service_account(key.name)
        if not injection_enabled(namespace):
            return
        broker_key = ResourceKey(BROKERS, key.name, "default")
        broker = {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Broker",
            "metadata": {
                "name": "default",
                "namespace": key.name,
                "labels": {INJECTED_LABEL: "true"},
            },
            "spec": {},
        }
        rk = self._scheme.for_object(broker)
        try:
            await self._store.create(broker_key, rk.default(broker))
        except ConflictError:
            return
        await self._recorder.record(
            namespace, "Normal", "BrokerCreated", "Default eventing.knative.dev Broker created."
        )

    async def _ensure_default_service_account(self, namespace: str) -> None:
        """Every namespace has a ServiceAccount ``default``, as Kubernetes' service account
        controller keeps it (recreated if deleted)."""
        account = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace},
        }
        key = ResourceKey(SERVICE_ACCOUNTS, namespace, "default")
        try:
            await self._store.get(key)
        except NotFoundError:
            try:
                await self._store.create(key, self._scheme.for_object(account).default(account))
            except ConflictError:
                return

    async def _delete_contents(self, namespace: str) -> None:
        for rk in self._scheme.kinds:
            if not rk.namespaced:
                continue
            listed = await self._store.list(rk.resource, namespace)
            for item in listed.items:
                try:
                    await self._store.delete(
                        ResourceKey(rk.resource, namespace, item["metadata"]["name"])
                    )
                except NotFoundError:
                    continue


def namespace_controller(store: ResourceStore, scheme: Scheme = SCHEME) -> Controller:
    reconciler = NamespaceReconciler(store, scheme)

    async def account_gone(event: WatchEvent) -> Iterable[ResourceKey]:
        meta = event.object["metadata"]
        if event.type != "DELETED" or meta.get("name") != "default":
            return []
        return [ResourceKey(NAMESPACES, "", meta.get("namespace", ""))]

    return Controller(
        "namespace",
        store,
        reconciler.reconcile,
        [own(NAMESPACES), Watch(SERVICE_ACCOUNTS, account_gone)],
    )
