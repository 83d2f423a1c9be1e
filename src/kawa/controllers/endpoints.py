"""The endpoints controller: Endpoints and EndpointSlices of core/v1 Services from their Pods.

As Kubernetes' endpoints and endpointslice controllers do, for each Service with a
``selector``:

- the Pods of its namespace whose labels hold every selector pair, that have a ``podIP``, are
  not being deleted and have not ended (``Succeeded``/``Failed``), are its backends; a Pod is
  ready when its ``Ready`` condition is ``True`` (or the Service says
  ``publishNotReadyAddresses``);
- each Service port's ``targetPort`` is resolved per Pod: a number as it is, a name as the
  ``containerPort`` of that name in the Pod's containers (a Pod without it is left out of that
  port). Each Pod has its own loopback address (``status.podIP``); Pods whose ports
  resolve alike share a subset, the others get their own;
- the Endpoints of the Service's name lists them (``addresses`` and ``notReadyAddresses``,
  with ``targetRef`` to the Pod), labelled with the Service's labels and
  :data:`ENDPOINTS_MANAGED_BY`;
- EndpointSlices named ``<service>-<hash of the ports>``, one per port set, label
  ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by``, owned by the
  Service (``ownerReferences``), list the same endpoints with ``ready``/``serving``/
  ``terminating`` conditions; slices no longer wanted are deleted.

A Service without a selector keeps the Endpoints its user writes; kawa mirrors them into
EndpointSlices (as Kubernetes' mirroring controller does). When a Service is deleted, the
Endpoints and slices kawa made for it go too. A Pod change reconciles every Service of its
namespace. Started by :mod:`kawa.runtime`; the routing that reads the Endpoints is
:mod:`kawa.serving.services`.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

from kawa.apis import core, discovery
from kawa.apis.discovery import endpointslice as eps
from kawa.errors import AlreadyExistsError, ConflictError, NotFoundError, TemporaryError
from kawa.reconciler.loop import Controller, Watch, in_namespace, own
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent

SERVICES: Final = core.SERVICE.resource
ENDPOINTS: Final = core.ENDPOINTS.resource
SLICES: Final = discovery.ENDPOINT_SLICE.resource
PODS: Final = core.POD.resource

ENDPOINTS_MANAGED_BY: Final = ("endpoints.kubernetes.io/managed-by", "endpoint-controller")
"""The label of the Endpoints this controller writes (so only those are deleted with their
Service)."""
SLICE_MANAGER: Final = "endpointslice-controller.k8s.io"
MIRROR_MANAGER: Final = "endpointslicemirroring-controller.k8s.io"


# -- what a Service's Pods give -------------------------------------------------------------


def _ports_of(service: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    ports = (service.get("spec") or {}).get("ports")
    return [p for p in ports or [] if isinstance(p, Mapping)]


def selector_of(service: Mapping[str, Any]) -> dict[str, str] | None:
    selector = (service.get("spec") or {}).get("selector")
    return dict(selector) if isinstance(selector, Mapping) and selector else None


def matches(selector: Mapping[str, str], pod: Mapping[str, Any]) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def is_backend(pod: Mapping[str, Any]) -> bool:
    """Whether a Pod is listed at all: it has an IP, is not being deleted, has not ended."""
    status = pod.get("status") or {}
    return (
        bool(status.get("podIP"))
        and not pod["metadata"].get("deletionTimestamp")
        and status.get("phase") not in ("Succeeded", "Failed")
    )


def is_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in conditions
    )


def resolve_port(pod: Mapping[str, Any], target: Any) -> int | None:
    """The Pod's port for a Service port's ``targetPort`` (None: the Pod has no such port)."""
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if not isinstance(target, str) or not target:
        return None
    if target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in (container or {}).get("ports") or []:
            if isinstance(port, Mapping) and port.get("name") == target:
                number = port.get("containerPort")
                return number if isinstance(number, int) else None
    return None


PortSet = tuple[tuple[str, int, str, str], ...]
"""A Pod's resolved ports: (name, number, protocol, appProtocol) per Service port."""


def _pod_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> PortSet:
    out: list[tuple[str, int, str, str]] = []
    for port in _ports_of(service):
        number = resolve_port(pod, port.get("targetPort", port.get("port")))
        if number is not None:
            out.append(
                (
                    str(port.get("name") or ""),
                    number,
                    str(port.get("protocol") or "TCP"),
                    str(port.get("appProtocol") or ""),
                )
            )
    return tuple(out)


def _address(pod: Mapping[str, Any]) -> dict[str, Any]:
    metadata = pod["metadata"]
    address: dict[str, Any] = {
        "ip": pod["status"]["podIP"],
        "targetRef": {
            "kind": "Pod",
            "namespace": metadata.get("namespace", ""),
            "name": metadata["name"],
            "uid": metadata.get("uid", ""),
        },
    }
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        address["nodeName"] = node
    return address


def _endpoint_ports(ports: PortSet, *, slice_form: bool = False) -> list[dict[str, Any]]:
    out = []
    for name, number, protocol, app in ports:
        item: dict[str, Any] = {"name": name, "port": number, "protocol": protocol}
        if not name and not slice_form:
            del item["name"]
        if app:
            item["appProtocol"] = app
        out.append(item)
    return out


def desired_subsets(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """The ``subsets`` of a selecting Service's Endpoints: one per distinct port set."""
    selector = selector_of(service) or {}
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    groups: dict[PortSet, dict[str, list[dict[str, Any]]]] = {}
    for pod in pods:
        if not matches(selector, pod) or not is_backend(pod):
            continue
        ports = _pod_ports(service, pod)
        if _ports_of(service) and not ports:
            continue
        group = groups.setdefault(ports, {"addresses": [], "notReadyAddresses": []})
        ready = publish or is_ready(pod)
        group["addresses" if ready else "notReadyAddresses"].append(_address(pod))
    subsets: list[Obj] = []
    for ports, group in sorted(groups.items()):
        subset: Obj = {k: v for k, v in group.items() if v}
        if ports:
            subset["ports"] = _endpoint_ports(ports)
        subsets.append(subset)
    return subsets


def slices_from_subsets(
    service: Mapping[str, Any], subsets: Iterable[Mapping[str, Any]]
) -> list[Obj]:
    """EndpointSlices (name, ports, endpoints) for ``subsets``: one per port set."""
    metadata = service["metadata"]
    name = metadata["name"]
    by_ports: dict[str, tuple[list[Any], list[Obj]]] = {}
    for subset in subsets:
        ports = [p for p in subset.get("ports") or [] if isinstance(p, Mapping)]
        slice_ports = [
            {
                "name": str(p.get("name") or ""),
                "port": p.get("port"),
                "protocol": p.get("protocol") or "TCP",
                **({"appProtocol": p["appProtocol"]} if p.get("appProtocol") else {}),
            }
            for p in ports
        ]
        digest = hashlib.sha256(repr(slice_ports).encode()).hexdigest()[:5]
        _, endpoints = by_ports.setdefault(digest, (slice_ports, []))
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field) or []:
                if not isinstance(address, Mapping) or not address.get("ip"):
                    continue
                endpoint: Obj = {
                    "addresses": [address["ip"]],
                    "conditions": {"ready": ready, "serving": ready, "terminating": False},
                }
                for key in ("targetRef", "nodeName", "hostname"):
                    if address.get(key):
                        endpoint[key] = address[key]
                endpoints.append(endpoint)
    out: list[Obj] = []
    for digest, (ports, endpoints) in sorted(by_ports.items()):
        out.append(
            {
                "apiVersion": eps.API_VERSION,
                "kind": eps.KIND,
                "metadata": {"name": f"{name}-{digest}", "namespace": metadata.get("namespace")},
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            }
        )
    return out


# -- the controller -------------------------------------------------------------------------


class EndpointsReconciler:
    """Reconciles one Service key (see the module docstring)."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store

    async def reconcile(self, key: ResourceKey) -> None:
        namespace, name = key.namespace, key.name
        try:
            service = await self._store.get(key)
        except NotFoundError:
            await self._forget(namespace, name)
            return
        if service["metadata"].get("deletionTimestamp"):
            return
        if (service.get("spec") or {}).get("type") == "ExternalName":
            await self._sync_slices(service, [], SLICE_MANAGER)
            return
        if selector_of(service) is None:
            subsets = await self._user_subsets(namespace, name)
            await self._sync_slices(service, subsets, MIRROR_MANAGER)
            return
        pods = (await self._store.list(PODS, namespace)).items
        subsets = desired_subsets(service, pods)
        await self._write_endpoints(service, subsets)
        await self._sync_slices(service, subsets, SLICE_MANAGER)

    async def _user_subsets(self, namespace: str, name: str) -> list[Obj]:
        try:
            found = await self._store.get(ResourceKey(ENDPOINTS, namespace, name))
        except NotFoundError:
            return []
        return [s for s in found.get("subsets") or [] if isinstance(s, dict)]

    async def _write_endpoints(self, service: Obj, subsets: list[Obj]) -> None:
        metadata = service["metadata"]
        namespace, name = metadata.get("namespace", ""), metadata["name"]
        labels = dict(metadata.get("labels") or {})
        labels[ENDPOINTS_MANAGED_BY[0]] = ENDPOINTS_MANAGED_BY[1]
        wanted = core.ENDPOINTS.default(
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "subsets": subsets,
            }
        )
        await self._put(ResourceKey(ENDPOINTS, namespace, name), wanted, ("subsets",))

    async def _sync_slices(self, service: Obj, subsets: list[Obj], manager: str) -> None:
        metadata = service["metadata"]
        namespace, name = metadata.get("namespace", ""), metadata["name"]
        owner = {
            "apiVersion": "v1",
            "kind": "Service",
            "name": name,
            "uid": metadata.get("uid", ""),
            "controller": True,
            "blockOwnerDeletion": True,
        }
        wanted: dict[str, Obj] = {}
        for item in slices_from_subsets(service, subsets):
            item["metadata"]["labels"] = {
                **(metadata.get("labels") or {}),
                eps.SERVICE_NAME_LABEL: name,
                eps.MANAGED_BY_LABEL: manager,
            }
            item["metadata"]["ownerReferences"] = [owner]
            wanted[item["metadata"]["name"]] = discovery.ENDPOINT_SLICE.default(item)
        for existing in await self._managed_slices(namespace, name):
            slice_name = existing["metadata"]["name"]
            if slice_name not in wanted:
                await self._delete(ResourceKey(SLICES, namespace, slice_name))
        for slice_name, item in wanted.items():
            await self._put(
                ResourceKey(SLICES, namespace, slice_name),
                item,
                ("addressType", "endpoints", "ports"),
            )

    async def _managed_slices(self, namespace: str, name: str) -> list[Obj]:
        listed = await self._store.list(SLICES, namespace)
        return [
            s
            for s in listed.items
            if (s["metadata"].get("labels") or {}).get(eps.SERVICE_NAME_LABEL) == name
            and (s["metadata"].get("labels") or {}).get(eps.MANAGED_BY_LABEL)
            in (SLICE_MANAGER, MIRROR_MANAGER)
        ]

    async def _forget(self, namespace: str, name: str) -> None:
        """The Service is gone: its slices go, and its Endpoints if kawa wrote them."""
        for existing in await self._managed_slices(namespace, name):
            await self._delete(ResourceKey(SLICES, namespace, existing["metadata"]["name"]))
        key = ResourceKey(ENDPOINTS, namespace, name)
        try:
            found = await self._store.get(key)
        except NotFoundError:
            return
        labels = found["metadata"].get("labels") or {}
        if labels.get(ENDPOINTS_MANAGED_BY[0]) == ENDPOINTS_MANAGED_BY[1]:
            await self._delete(key)

    async def _put(self, key: ResourceKey, wanted: Obj, fields: tuple[str, ...]) -> None:
        """Create ``wanted`` or update the stored object's ``fields`` and metadata to it."""
        try:
            current = await self._store.get(key)
        except NotFoundError:
            try:
                await self._store.create(key, wanted)
            except AlreadyExistsError as err:
                raise TemporaryError(str(err), delay=0.0) from err
            return
        metadata = dict(current["metadata"])
        for part in ("labels", "ownerReferences"):
            if part in wanted["metadata"]:
                metadata[part] = wanted["metadata"][part]
        updated = dict(current, metadata=metadata)
        for field in fields:
            if field in wanted:
                updated[field] = wanted[field]
            else:
                updated.pop(field, None)
        if updated == current:
            return
        try:
            await self._store.update(key, updated)
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err
        except NotFoundError as err:
            raise TemporaryError(str(err), delay=0.0) from err

    async def _delete(self, key: ResourceKey) -> None:
        with contextlib.suppress(NotFoundError):
            await self._store.delete(key)


def _to_service(resource: str) -> Watch:
    """A change of an Endpoints (same name) or a slice (its service-name label) concerns
    that Service."""

    async def keys(event: WatchEvent) -> Iterable[ResourceKey]:
        metadata = event.object["metadata"]
        namespace = str(metadata.get("namespace", "") or "")
        if resource == SLICES:
            name = (metadata.get("labels") or {}).get(eps.SERVICE_NAME_LABEL)
            return [ResourceKey(SERVICES, namespace, name)] if name else []
        return [ResourceKey(SERVICES, namespace, metadata["name"])]

    return Watch(resource, keys)


def endpoints_controller(store: ResourceStore) -> Controller:
    """The controller, ready to ``run()``."""
    reconciler = EndpointsReconciler(store)
    return Controller(
        "endpoints",
        store,
        reconciler.reconcile,
        [
            own(SERVICES),
            Watch(PODS, in_namespace(store, SERVICES)),
            _to_service(ENDPOINTS),
            _to_service(SLICES),
        ],
        workers=2,
    )
