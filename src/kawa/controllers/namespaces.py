"""Namespaces: the system ones exist, injection creates Broker ``default``, deletion cascades.

- :func:`ensure_namespaces` creates ``default``, ``kube-system``, ``kube-public``,
  ``kube-node-lease`` and ``knative-eventing`` at start-up, as a cluster has them.
- A namespace labelled ``knative-eventing-injection=enabled`` (the 2019 label the seed
  tutorial uses) or ``eventing.knative.dev/injection=enabled`` gets a Broker named
  ``default`` (Knative's namespace reconciler), labelled as injected; removing the label
  leaves the broker alone, as Knative does.
- A namespace being deleted (``deletionTimestamp``, ``Terminating``: the API server's
  Namespace strategy) is emptied as Kubernetes' namespace controller does it: every object
  in it is deleted (objects with finalizers stay, marked deleting, until those are gone);
  its status conditions say what remains (``NamespaceContentRemaining``,
  ``NamespaceFinalizersRemaining``...); it is looked at again every
  :data:`TERMINATING_RECHECK` seconds until it is empty, and then its ``kubernetes``
  finalizer (``spec.finalizers``) is taken away, which removes it (the store's rule, once no
  ``metadata.finalizers`` remain). A namespace removed from the store at once (by an older
  kawa) has its objects deleted after the fact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from kawa.apis import core
from kawa.apis.conditions import format_time
from kawa.apis.core import namespace as core_namespace
from kawa.apis.registry import BROKER, SCHEME, Scheme
from kawa.errors import ConflictError, NotFoundError, TemporaryError
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
TERMINATING_RECHECK: Final = 1.0
"""Seconds between two looks at what a terminating namespace still holds."""

CONTENT_REMAINING: Final = "NamespaceContentRemaining"
FINALIZERS_REMAINING: Final = "NamespaceFinalizersRemaining"
CONDITIONS_OK: Final = (
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (CONTENT_REMAINING, "ContentRemoved", "All content successfully removed"),
    (FINALIZERS_REMAINING, "ContentRemoved", "All content successfully removed"),
)
"""The conditions of a terminating namespace, as Kubernetes' namespace controller keeps
them, in their ``False`` (nothing wrong) form: (type, reason, message)."""


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
        self.recheck: Callable[[ResourceKey, float], None] | None = None
        """Reconcile a key again after a delay, quietly (set by :func:`namespace_controller`);
        without it a terminating namespace that still holds objects raises TemporaryError."""

    async def reconcile(self, key: ResourceKey) -> None:
        try:
            namespace = await self._store.get(key)
        except NotFoundError:
            await self._delete_contents(key.name)
            return
        if namespace["metadata"].get("deletionTimestamp"):
            await self._terminate(key, namespace)
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

    async def _terminate(self, key: ResourceKey, namespace: dict[str, Any]) -> None:
        """Empty the namespace being deleted, then take its ``kubernetes`` finalizer away
        (see the module docstring); TemporaryError while objects remain."""
        spec = _section(namespace, "spec")
        finalizers = list(spec.get("finalizers") or [])
        if core_namespace.KUBERNETES_FINALIZER not in finalizers:
            return  # done by us: its metadata.finalizers keep it
        await self._delete_contents(key.name)
        remaining, held = await self._remaining(key.name)
        namespace = await self._write_status(
            key, namespace, terminating_status(namespace, remaining, held)
        )
        if remaining:
            if self.recheck is None:
                total = sum(remaining.values())
                message = f"namespace {key.name} is terminating: {total} object(s) remain"
                raise TemporaryError(message, delay=TERMINATING_RECHECK)
            self.recheck(key, TERMINATING_RECHECK)  # no log line a second while it waits
            return
        finalizers.remove(core_namespace.KUBERNETES_FINALIZER)
        namespace["spec"] = {**spec, "finalizers": finalizers}
        try:
            await self._store.update(key, namespace)  # removes it, when nothing else holds it
        except (ConflictError, NotFoundError) as err:
            raise TemporaryError(str(err), delay=0.0) from err

    async def _write_status(
        self, key: ResourceKey, namespace: dict[str, Any], status: dict[str, Any]
    ) -> dict[str, Any]:
        if namespace.get("status") == status:
            return namespace
        try:
            return await self._store.update(key, {**namespace, "status": status}, status_only=True)
        except (ConflictError, NotFoundError) as err:
            raise TemporaryError(str(err), delay=0.0) from err

    async def _remaining(self, namespace: str) -> tuple[dict[str, int], dict[str, int]]:
        """What the namespace still holds: objects per resource (``plural.group``, as
        Kubernetes names them), and objects per finalizer keeping them."""
        remaining: dict[str, int] = {}
        held: dict[str, int] = {}
        for rk in self._scheme.kinds:
            if not rk.namespaced:
                continue
            items = (await self._store.list(rk.resource, namespace)).items
            if items:
                remaining[f"{rk.plural}.{rk.group}"] = len(items)
            for item in items:
                for finalizer in set(item["metadata"].get("finalizers") or []):
                    held[str(finalizer)] = held.get(str(finalizer), 0) + 1
        return remaining, held

    async def _delete_contents(self, namespace: str) -> None:
        """Delete every object in ``namespace`` (those with finalizers are only marked)."""
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


def terminating_status(
    namespace: Mapping[str, Any], remaining: Mapping[str, int], held: Mapping[str, int]
) -> dict[str, Any]:
    """The status of a terminating namespace that still holds ``remaining`` objects per
    resource, ``held`` per finalizer: ``Terminating`` and Kubernetes' five conditions
    (a condition's ``lastTransitionTime`` moves only when its status does)."""
    status = _section(namespace, "status")
    before = {c.get("type"): c for c in (status.get("conditions") or []) if isinstance(c, Mapping)}
    now = format_time(datetime.now(UTC))
    conditions: list[dict[str, Any]] = []
    for type_, ok_reason, ok_message in CONDITIONS_OK:
        value, reason, message = "False", ok_reason, ok_message
        if type_ == CONTENT_REMAINING and remaining:
            value, reason = "True", "SomeResourcesRemain"
            message = "Some resources are remaining: " + _counted(
                remaining, "has {} resource instances"
            )
        elif type_ == FINALIZERS_REMAINING and held:
            value, reason = "True", "SomeFinalizersRemain"
            message = "Some content in the namespace has finalizers remaining: " + _counted(
                held, "in {} resource instances"
            )
        old = before.get(type_) or {}
        moved = old.get("status") != value or not old.get("lastTransitionTime")
        conditions.append(
            {
                "type": type_,
                "status": value,
                "lastTransitionTime": now if moved else old["lastTransitionTime"],
                "reason": reason,
                "message": message,
            }
        )
    return {**status, "phase": core_namespace.TERMINATING, "conditions": conditions}


def namespace_controller(store: ResourceStore, scheme: Scheme = SCHEME) -> Controller:
    reconciler = NamespaceReconciler(store, scheme)

    async def account_gone(event: WatchEvent) -> Iterable[ResourceKey]:
        meta = event.object["metadata"]
        if event.type != "DELETED" or meta.get("name") != "default":
            return []
        return [ResourceKey(NAMESPACES, "", meta.get("namespace", ""))]

    controller = Controller(
        "namespace",
        store,
        reconciler.reconcile,
        [own(NAMESPACES), Watch(SERVICE_ACCOUNTS, account_gone)],
    )
    reconciler.recheck = controller.queue.add_after
    return controller


def _counted(counts: Mapping[str, int], how: str) -> str:
    """``name <how, formatted with the count>``, joined by commas, sorted (stable updates)."""
    return ", ".join(sorted(f"{name} {how.format(n)}" for name, n in counts.items()))


def _section(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return dict(value) if isinstance(value, Mapping) else {}
