"""Requests to core/v1 Services: kawa's stand-in for kube-proxy and cluster DNS.

:class:`ServiceProxy` watches Services and Endpoints (the endpoints controller,
:mod:`kawa.controllers.endpoints`, writes those of Services with a selector; the user those of
Services without) and answers on kawa's HTTP port:

- by path, for any client: ``/services/<namespace>/<service>[:<port>]/<path>`` (``<port>`` a
  Service port's number or name), the process seeing ``/<path>`` (ADR "Services by path and
  Host");
- by ``Host`` (:meth:`ServiceProxy.middleware`): ``<service>.<namespace>``,
  ``<service>.<namespace>.svc`` or ``<service>.<namespace>.svc.cluster.local``, optionally
  with ``:<port>``, path unchanged, as in a cluster.

The Service port is the one named (its ``port`` number; by path also its ``name``), else
port 80 when the Service has it, else its first port. Requests are spread round robin over
the ready addresses serving that port (``targetPort`` resolved per Pod); none ready: 503 with
a text that says why. The request goes to the endpoint with the client's headers (``Host``
kept) plus ``X-Forwarded-*``, as :mod:`kawa.serving.router` forwards to a Revision. An
ExternalName Service is not proxied (501). Created and run by :mod:`kawa.runtime`, its
middleware after the Knative Route's (a Knative Service's host name wins, as in Knative,
where the Knative Service owns the Kubernetes Service of its name).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from kawa import memo
from kawa.apis import core
from kawa.reconciler.informer import inform
from kawa.serving import podnet, router
from kawa.store.base import Obj, ResourceStore, WatchEvent
from kawa.transport import bodies
from kawa.transport.front import HostHandler, front_door
from kawa.transport.http11 import HttpClient, HttpClientError

log = logging.getLogger(__name__)

PREFIX: Final = "/services/"
PATH: Final = "/services/{namespace}/{name}{tail:(/.*)?}"
HOST_SUFFIXES: Final = frozenset({"", "svc", "svc.cluster.local"})
"""What may follow ``<service>.<namespace>`` in a Service's host name."""
TIMEOUT: Final = 300.0
"""Seconds an endpoint has to answer (Knative's default request timeout)."""
RETRY_AFTER: Final = "1"


def _text(status: int, message: str, *, retry: bool = False) -> web.Response:
    headers = {"Retry-After": RETRY_AFTER} if retry else None
    return web.Response(status=status, text=message + "\n", headers=headers)


@memo.short_keys(1024, 261)  # few hosts, every request; a DNS name and a port
def service_host(host: str) -> tuple[str, str, int | None] | None:
    """``(namespace, service, port)`` named by a ``Host`` header, or None when it is not a
    Service host name (``web.default.svc.cluster.local:8080`` -> ``("default", "web",
    8080)``; no port: None; lowercased, a final dot dropped)."""
    name_part, colon, port_text = host.lower().rpartition(":")
    if not colon or "]" in port_text:
        name_part, port_text = host.lower(), ""
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            return None
        port = int(port_text)
    name, _, rest = name_part.rstrip(".").partition(".")
    namespace, _, suffix = rest.partition(".")
    if not name or not namespace or suffix not in HOST_SUFFIXES:
        return None
    return namespace, name, port


CLUSTER_SUFFIXES: Final = (".svc", ".svc.cluster.local")


def cluster_names_to(address: tuple[str, int]) -> Callable[[str, int], tuple[str, int] | None]:
    """A ``connect_to`` for kawa's HTTP clients: cluster names (``<x>.<ns>.svc`` and
    ``<x>.<ns>.svc.cluster.local``, any port) connect to kawa's ``address``, which routes them
    by ``Host`` (Knative Routes, the broker ingress, core/v1 Services)."""

    def connect_to(host: str, port: int) -> tuple[str, int] | None:
        name = host.lower().rstrip(".")
        if name.endswith(CLUSTER_SUFFIXES) and name.count(".") >= 2:
            return address
        return None

    return connect_to


@dataclass(frozen=True, slots=True)
class Target:
    """An address and port of a Service's endpoint."""

    address: str
    port: int
    pod: str
    node: str = ""
    """The node of the Pod (the address's ``nodeName``; empty: unknown, reached directly)."""


def pick_port(service: Mapping[str, Any], wanted: str | int | None) -> Mapping[str, Any] | None:
    """The Service port ``wanted`` names (a number, or by path a name), else 80 or the first."""
    ports = [p for p in (service.get("spec") or {}).get("ports") or [] if isinstance(p, Mapping)]
    if wanted is None:
        return next((p for p in ports if p.get("port") == 80), ports[0] if ports else None)
    if isinstance(wanted, str) and not wanted.isdigit():
        return next((p for p in ports if p.get("name") == wanted), None)
    return next((p for p in ports if p.get("port") == int(wanted)), None)


def ready_targets(
    service: Mapping[str, Any], endpoints: Mapping[str, Any] | None, port: Mapping[str, Any]
) -> tuple[list[Target], int]:
    """The ready endpoints of the Service port ``port``, and how many are not ready."""
    name = str(port.get("name") or "")
    single = len((service.get("spec") or {}).get("ports") or []) == 1
    targets: list[Target] = []
    not_ready = 0
    for subset in (endpoints or {}).get("subsets") or []:
        if not isinstance(subset, Mapping):
            continue
        ports = [p for p in subset.get("ports") or [] if isinstance(p, Mapping)]
        match = next((p for p in ports if str(p.get("name") or "") == name), None)
        if match is None and single and len(ports) == 1:
            match = ports[0]  # a user's Endpoints naming the one port otherwise
        number = match.get("port") if match is not None else None
        if not isinstance(number, int):
            continue
        not_ready += len(subset.get("notReadyAddresses") or [])
        for address in subset.get("addresses") or []:
            if isinstance(address, Mapping) and isinstance(address.get("ip"), str):
                ref = address.get("targetRef")
                pod = str(ref.get("name") or "") if isinstance(ref, Mapping) else ""
                node = address.get("nodeName")
                node = node if isinstance(node, str) else ""
                targets.append(Target(address["ip"], number, pod, node))
    return targets, not_ready


class ServiceProxy:
    """The Services' router (see the module docstring)."""

    def __init__(self, store: ResourceStore, pods: podnet.Directory | None = None) -> None:
        self._store = store
        self._pods = pods
        """Where Pods on other nodes are reached (None: every Pod is this node's)."""
        self._services: dict[tuple[str, str], Obj] = {}
        self._endpoints: dict[tuple[str, str], Obj] = {}
        self._turns: dict[tuple[str, str, str], itertools.count[int]] = {}
        self._client: HttpClient | None = None
        self.ready = asyncio.Event()

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", PATH, self.handle)]

    async def run(self) -> None:
        self._client = HttpClient()
        try:
            async with asyncio.TaskGroup() as tg:
                for resource, table in (
                    (core.SERVICE.resource, self._services),
                    (core.ENDPOINTS.resource, self._endpoints),
                ):
                    listed = asyncio.Event()
                    tg.create_task(self._follow(resource, table, listed), name=f"proxy-{resource}")
                    await listed.wait()
                self.ready.set()
        finally:
            await self._client.close()
            self._client = None

    async def _follow(
        self, resource: str, table: dict[tuple[str, str], Obj], listed: asyncio.Event
    ) -> None:
        def key_of(obj: Obj) -> tuple[str, str]:
            metadata = obj["metadata"]
            return str(metadata.get("namespace", "")), str(metadata["name"])

        async def changed(event: WatchEvent) -> None:
            if event.type == "DELETED":
                key = key_of(event.object)
                table.pop(key, None)
                if table is self._services:
                    for turn in [t for t in self._turns if t[:2] == key]:
                        del self._turns[turn]
            else:
                table[key_of(event.object)] = event.object

        async def relisted(items: list[Obj]) -> None:
            table.clear()
            table.update((key_of(o), o) for o in items)
            listed.set()

        await inform(self._store, resource, changed, on_listed=relisted)

    # -- requests ---------------------------------------------------------------------------

    def knows(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self._services

    def middleware(self) -> Middleware:
        """:meth:`host_handler` as the one middleware of an application (tests)."""
        return front_door([self.host_handler()])

    def claims(self, headers: Mapping[str, str]) -> bool:
        """Whether :meth:`host_handler` takes a request with these headers (a Service's
        host: the lean ingress path leaves it to aiohttp)."""
        host = headers.get("Host")
        found = service_host(host) if host else None
        return found is not None and self.knows(found[0], found[1])

    def host_handler(self) -> HostHandler:
        """A request whose ``Host`` names an existing Service goes to it, path unchanged;
        any other goes on untouched."""

        def by_host(request: web.Request) -> Awaitable[web.StreamResponse] | None:
            host = request.headers.get("Host")
            found = service_host(host) if host else None
            if found is not None and self.knows(found[0], found[1]):
                namespace, name, port = found
                path = router.origin_form(request)
                return self.serve(request, namespace, name, port, path)
            return None

        return by_host

    async def handle(self, request: web.Request) -> web.StreamResponse:
        namespace = request.match_info["namespace"]
        name, colon, port = request.match_info["name"].partition(":")
        if not self.ready.is_set():
            return _text(503, "kawa's service proxy is starting", retry=True)
        if not self.knows(namespace, name):
            return _text(404, f"no Service {name!r} in namespace {namespace!r}")
        wanted = port if colon else None
        return await self.serve(request, namespace, name, wanted, router.tail_of(request.raw_path))

    async def serve(
        self, request: web.Request, namespace: str, name: str, wanted: str | int | None, tail: str
    ) -> web.StreamResponse:
        """Send ``request`` to a ready endpoint of Service ``namespace/name`` as ``tail``."""
        client = self._client
        service = self._services.get((namespace, name))
        if client is None or service is None:
            return _text(503, "kawa's service proxy is starting", retry=True)
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return _text(
                501,
                f"Service {namespace}/{name} is an ExternalName Service "
                f"({spec.get('externalName')}): kawa does not proxy those; call that name",
            )
        port = pick_port(service, wanted)
        if port is None:
            served = ", ".join(_describe(p) for p in spec.get("ports") or []) or "none"
            return _text(
                404, f"Service {namespace}/{name} has no port {wanted} (its ports: {served})"
            )
        targets, not_ready = ready_targets(service, self._endpoints.get((namespace, name)), port)
        if not targets:
            return _text(503, _no_endpoint(namespace, name, service, port, not_ready), retry=True)
        turn = self._turns.setdefault(
            (namespace, name, str(port.get("name") or "")), itertools.count()
        )
        target = targets[next(turn) % len(targets)]
        address = (target.address, target.port)
        hop = podnet.Hop(address) if self._pods is None else self._pods.route(target.node, address)
        try:
            async with bodies.read(request, request.client_max_size) as body:
                response = await router.forward(
                    client, request, hop.connect, tail, body, TIMEOUT, hop.target
                )
        except bodies.BodyError as err:
            answer = _text(err.status, str(err))
            answer.headers.update(err.headers)
            if err.close:
                answer.force_close()
            return answer
        except TimeoutError:
            return _text(
                504, f"Service {namespace}/{name}: {_where(target)} did not answer in time"
            )
        except (HttpClientError, ValueError) as exc:
            return _text(502, f"Service {namespace}/{name}: {_where(target)} failed: {exc}")
        return router.to_response(response)


def _describe(port: Any) -> str:
    if not isinstance(port, Mapping):
        return "?"
    name = port.get("name")
    return f"{port.get('port')} ({name})" if name else str(port.get("port"))


def _where(target: Target) -> str:
    pod = f" (Pod {target.pod})" if target.pod else ""
    return f"endpoint {target.address}:{target.port}{pod}"


def _no_endpoint(
    namespace: str, name: str, service: Mapping[str, Any], port: Mapping[str, Any], not_ready: int
) -> str:
    head = f"Service {namespace}/{name} has no ready endpoint for port {_describe(port)}"
    selector = (service.get("spec") or {}).get("selector")
    if not isinstance(selector, Mapping) or not selector:
        return f"{head}: it has no selector, and its Endpoints list no ready address"
    labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    if not_ready:
        return f"{head}: {not_ready} Pod(s) matching {labels} are not ready yet"
    return f"{head}: no running Pod matches {labels} (with a port {port.get('targetPort')})"
