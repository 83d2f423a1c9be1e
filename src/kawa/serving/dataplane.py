"""The serving data plane: router, activator and autoscaler of every Revision, in one object.

:class:`ServingDataPlane` watches the resource store (as Knative's activator, autoscaler and
ingress watch theirs): Routes (their ``status.traffic``) fill the
:class:`~kawa.serving.router.RouteTable`; each Revision gets a
:class:`~kawa.serving.autoscaler.RevisionScaler` (its Pods, its throttler, its ticks); Pods
labelled ``serving.knative.dev/revision`` go to their Revision's scaler; ConfigMaps
``knative-serving/config-autoscaler`` and ``config-kawa-images`` apply live (a bad value logs a
warning and keeps the default).

:meth:`ServingDataPlane.routes` serves ``/serving/{namespace}/{name}{tail}`` for any method,
and :meth:`ServingDataPlane.middleware` any request whose ``Host`` is a Route's host name
(``<name>.<namespace>.example.com``, ``.svc.cluster.local``, ...; path unchanged): pick a
Revision of the Route's split, wait for a free instance (scaling from zero wakes the scaler),
forward, answer. Errors are plain text: 404 for an unknown Route, 503 (with
``Retry-After``) when it has no traffic target, the Revision is not there or cannot run, or
too many requests wait; 504 when the Revision's ``timeoutSeconds`` pass; 502 when the instance
fails. The request body is read within the server's bounds
(:func:`kawa.transport.bodies.read`: 413, 408, 503 with ``Retry-After``).

When a Revision is deleted (deleting a Service deletes its Route and Revisions, then the
Revisions' Pods), requests still waiting for an instance get 503 ``Revision <ns>/<name> was
deleted``; requests in flight go on as long as the instance's process lives (the kubelet
sends SIGTERM when the Pod goes: a program that finishes its requests on SIGTERM completes
them within its grace period; one that exits at once fails them with 502, whose message then
says the Revision was deleted). Created and run by :mod:`kawa.runtime`, which puts the
middleware first on its application (before the API token's: routed Services need none).

With a :class:`~kawa.serving.concurrency.Bus` (processes sharing a store), every process
serves and measures, but its scalers decide only while :meth:`ServingDataPlane.lead` runs
(inside the elected leader's work): then it receives the others' reports and sums them into
its scalers' samples; a busy report for a Revision without Pods decides at once (scale from
zero through another node). Without one it decides alone, always.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from kawa import images
from kawa.apis import core, serving
from kawa.apis.serving import autoscaling
from kawa.dispatch import stats
from kawa.reconciler.informer import inform
from kawa.serving import concurrency, podnet, router
from kawa.serving import revision_pods as pods
from kawa.serving.activator import Overloaded, RevisionDeleted, Unavailable
from kawa.serving.autoscaler import RevisionScaler
from kawa.store.base import Obj, ResourceStore, WatchEvent
from kawa.transport import bodies
from kawa.transport.front import HostHandler, front_door
from kawa.transport.http11 import HttpClient, HttpClientError

log = logging.getLogger(__name__)

ROUTES: Final = serving.ROUTE.resource
REVISIONS: Final = serving.REVISION.resource
PODS: Final = core.POD.resource
CONFIGMAPS: Final = core.CONFIG_MAP.resource
CONFIG_NAMESPACE: Final = "knative-serving"
AUTOSCALER_CONFIG: Final = "config-autoscaler"
PATH: Final = "/serving/{namespace}/{name}{tail:(/.*)?}"
RETRY_AFTER: Final = "1"

EventHandler = Callable[[WatchEvent], Awaitable[None]]


def _text(status: int, message: str, *, retry: bool = False) -> web.Response:
    headers = {"Retry-After": RETRY_AFTER} if retry else None
    return web.Response(status=status, text=message + "\n", headers=headers)


class ServingDataPlane:
    """Router, activator and autoscalers (see the module docstring)."""

    def __init__(
        self,
        store: ResourceStore,
        *,
        clock: Callable[[], float] | None = None,
        bus: concurrency.Bus | None = None,
        identity: str = "",
        pods: podnet.Directory | None = None,
        reporter: stats.Reporter = stats.NO_REPORTER,
    ) -> None:
        self._store = store
        self._reporter = reporter
        self._pods = pods
        """Where Pods on other nodes are reached (None: every Pod is this node's)."""
        self._clock = clock or time.monotonic
        self._bus = bus
        self.scaling = concurrency.Scaling(identity, None if bus is None else bus.publish)
        self.table = router.RouteTable()
        self.config = autoscaling.AutoscalerConfig()
        self.catalog = images.DEFAULT_CATALOG
        self._revisions: dict[tuple[str, str], Obj] = {}
        self._scalers: dict[tuple[str, str], tuple[RevisionScaler, asyncio.Task[None]]] = {}
        self._warned: dict[tuple[str, str], list[str]] = {}
        """The settings warnings last logged per Revision (logged again only when they change)."""
        self._orphans: dict[tuple[str, str], dict[str, Obj]] = {}
        """Pods seen before their Revision: revision key -> pod name -> pod."""
        self._client: HttpClient | None = None
        self._task_group: asyncio.TaskGroup | None = None
        self.ready = asyncio.Event()

    # -- public --------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", PATH, self.handle)]

    def scaler(self, namespace: str, revision: str) -> RevisionScaler | None:
        found = self._scalers.get((namespace, revision))
        return None if found is None else found[0]

    def scalers(self) -> list[RevisionScaler]:
        """Every Revision's scaler (metrics read their instances and requests)."""
        return [scaler for scaler, _ in self._scalers.values()]

    async def run(self) -> None:
        if self._bus is not None:
            await self._bus.open()
        self._client = HttpClient()
        try:
            async with asyncio.TaskGroup() as tg:
                self._task_group = tg
                for resource, handler in (
                    (CONFIGMAPS, self._on_configmap),
                    (REVISIONS, self._on_revision),
                    (PODS, self._on_pod),
                    (ROUTES, self._on_route),
                ):
                    listed = asyncio.Event()
                    tg.create_task(
                        self._watch(resource, handler, listed), name=f"serving-{resource}"
                    )
                    await listed.wait()
                self.ready.set()
        finally:
            self._task_group = None
            for _, task in self._scalers.values():
                task.cancel()
            self._scalers.clear()
            await self._client.close()
            self._client = None
            if self._bus is not None:
                await self._bus.close()

    async def lead(self) -> None:
        """Decide every Revision's scale from every process's reports, until cancelled (run
        by the elected leader; returns at once when this process decides alone anyway)."""
        bus = self._bus
        if bus is None:
            return
        await self.ready.wait()
        async with bus.receiving(self._on_report):
            self.scaling.start_deciding(self._clock())
            try:
                for scaler, _ in self._scalers.values():
                    scaler.poke()
                await asyncio.Future()  # until cancelled
            finally:
                self.scaling.stop_deciding()

    def _on_report(self, report: concurrency.Report) -> None:
        scaling = self.scaling
        if report.sender == scaling.sender or not scaling.deciding:
            return
        scaling.reports.add(report, self._clock())
        found = self._scalers.get((report.namespace, report.revision))
        if found is not None and report.active and not found[0].current():
            found[0].poke()  # a request waits on another node for a Revision at zero

    # -- requests ------------------------------------------------------------------------

    def middleware(self) -> Middleware:
        """:meth:`host_handler` as the one middleware of an application (tests)."""
        return front_door([self.host_handler()])

    def claims(self, headers: Mapping[str, str]) -> bool:
        """Whether :meth:`host_handler` takes a request with these headers (a Route's host:
        the lean ingress path leaves it to aiohttp)."""
        host = headers.get("Host")
        found = router.host_route(host) if host else None
        return found is not None and self.table.lookup(*found) is not None

    def host_handler(self) -> HostHandler:
        """Host-based routing: a request whose ``Host`` names a Route goes to it, path unchanged.

        The ``Host`` (see :func:`~kawa.serving.router.host_route`) is looked up in the route
        table before anything else, so a Service's host wins over every other route of the
        application (as Knative's ingress routes by host first); any other request goes on to
        the application's handlers untouched. Put it first in :func:`front_door`.
        """

        def by_host(request: web.Request) -> Awaitable[web.StreamResponse] | None:
            host = request.headers.get("Host")
            found = router.host_route(host) if host else None
            if found is not None:
                split = self.table.lookup(*found)
                if split is not None:
                    path = router.origin_form(request)
                    return self._serve(request, found[0], found[1], split, path)
            return None

        return by_host

    async def handle(self, request: web.Request) -> web.StreamResponse:
        namespace = request.match_info["namespace"]
        name = request.match_info["name"]
        if self._client is None or not self.ready.is_set():
            return _text(503, "kawa serving is starting", retry=True)
        split = self.table.lookup(namespace, name)
        if split is None:
            return _text(404, f"no Route {name!r} (nor tagged route) in namespace {namespace!r}")
        return await self._serve(request, namespace, name, split, router.tail_of(request.raw_path))

    async def _serve(
        self, request: web.Request, namespace: str, name: str, split: router.Split, tail: str
    ) -> web.StreamResponse:
        """Send ``request`` to a Revision of ``split`` (Route ``namespace/name``) as ``tail``."""
        client = self._client
        if client is None or not self.ready.is_set():
            return _text(503, "kawa serving is starting", retry=True)
        revision = split.choose()
        if revision is None:
            return _text(503, f"route {namespace}/{name} has no ready traffic target", retry=True)
        found = self._scalers.get((namespace, revision))
        if found is None:
            return _text(503, f"revision {namespace}/{revision} is not available", retry=True)
        start = time.perf_counter()
        try:
            async with bodies.read(request, request.client_max_size) as body:
                response = await self._forward(
                    client, request, namespace, revision, found, tail, body
                )
                self._reporter.revision_request(
                    namespace, revision, found[0].owners, response.status,
                    time.perf_counter() - start,
                )  # fmt: skip
                return response
        except bodies.BodyError as err:
            response = _text(err.status, str(err))
            response.headers.update(err.headers)
            if err.close:
                response.force_close()
            return response

    async def _forward(
        self,
        client: HttpClient,
        request: web.Request,
        namespace: str,
        revision: str,
        found: tuple[RevisionScaler, asyncio.Task[None]],
        tail: str,
        body: bytes,
    ) -> web.StreamResponse:
        """Wait for an instance of ``revision`` and send it the request, ``body`` read."""
        scaler = found[0]
        throttler = scaler.throttler
        loop = asyncio.get_running_loop()
        deadline = loop.time() + scaler.timeout
        try:
            async with asyncio.timeout_at(deadline):
                endpoint = await throttler.acquire()
        except Overloaded as exc:
            return _text(503, str(exc), retry=True)
        except RevisionDeleted as exc:
            return _text(503, str(exc), retry=True)
        except Unavailable as exc:
            return _text(503, f"revision {namespace}/{revision} cannot serve: {exc}", retry=True)
        except TimeoutError:
            return _text(
                503,
                f"revision {namespace}/{revision} had no instance ready within {scaler.timeout:g}s",
                retry=True,
            )
        hop = self._hop(scaler, endpoint.pod, endpoint.address)
        try:
            response = await router.forward(
                client,
                request,
                hop.connect,
                tail,
                body,
                max(deadline - loop.time(), 0.001),
                hop.target,
            )
        except TimeoutError:
            return _text(504, f"revision {namespace}/{revision} did not answer in time")
        except (HttpClientError, ValueError) as exc:
            if self._scalers.get((namespace, revision)) is not found:
                return _text(
                    502,
                    f"Revision {namespace}/{revision} was deleted while the request was in "
                    f"flight; its instance {endpoint.pod} failed: {exc}",
                )
            return _text(502, f"revision {namespace}/{revision}: {exc}")
        finally:
            throttler.release(endpoint)
        return router.to_response(response)

    def _hop(self, scaler: RevisionScaler, pod: str, address: tuple[str, int]) -> podnet.Hop:
        """Directly to the Pod's ``address`` on this node, else through its node's kawa."""
        directory = self._pods
        found = scaler.pods.get(pod) if directory is not None else None
        if directory is None or found is None:
            return podnet.Hop(address)
        return directory.route((found.get("spec") or {}).get("nodeName"), address)

    # -- watches -------------------------------------------------------------------------

    async def _watch(self, resource: str, handler: EventHandler, listed: asyncio.Event) -> None:
        async def mark_listed(_: list[Obj]) -> None:
            listed.set()

        await inform(self._store, resource, handler, on_listed=mark_listed)

    async def _on_configmap(self, event: WatchEvent) -> None:
        metadata = event.object.get("metadata") or {}
        if metadata.get("namespace") != CONFIG_NAMESPACE:
            return
        name = metadata.get("name")
        data = None if event.type == "DELETED" else event.object.get("data")
        if name == AUTOSCALER_CONFIG:
            self.config, warnings = autoscaling.config_from_configmap(data)
        elif name == images.CONFIG_MAP:
            self.catalog, warnings = images.catalog_from_configmap(data)
        else:
            return
        for warning in warnings:
            log.warning("%s", warning)
        for key in list(self._scalers):
            self._update_scaler(key)

    async def _on_revision(self, event: WatchEvent) -> None:
        metadata = event.object["metadata"]
        key = (str(metadata.get("namespace", "")), str(metadata["name"]))
        if event.type == "DELETED" or metadata.get("deletionTimestamp"):
            # being deleted (in the foreground): no more Pods, the garbage collector's turn
            self._revisions.pop(key, None)
            self._warned.pop(key, None)
            self.scaling.reports.forget(*key)
            found = self._scalers.pop(key, None)
            if found is not None:
                found[0].throttler.set_deleted()
                found[1].cancel()
            return
        old = self._revisions.get(key)
        self._revisions[key] = event.object
        if old is not None and old["metadata"].get("uid") != metadata.get("uid"):
            found = self._scalers.pop(key, None)
            if found is not None:  # deleted and created again: the old one's waiters fail
                found[0].throttler.set_deleted()
                found[1].cancel()
        if key in self._scalers:
            self._update_scaler(key)
        else:
            self._start_scaler(key)

    def _settings(self, revision: Obj) -> autoscaling.ScalingSettings:
        settings, warnings = autoscaling.revision_settings(revision, self.config)
        metadata = revision["metadata"]
        key = (str(metadata.get("namespace", "")), str(metadata["name"]))
        if self._warned.get(key, []) != warnings:
            for warning in warnings:
                log.warning("revision %s/%s: %s", key[0], key[1], warning)
            self._warned[key] = warnings
        return settings

    def _start_scaler(self, key: tuple[str, str]) -> None:
        tg = self._task_group
        revision = self._revisions[key]
        if tg is None:
            return
        scaler = RevisionScaler(
            self._store,
            revision,
            self._settings(revision),
            catalog=self.catalog,
            clock=self._clock,
            scaling=self.scaling,
        )
        for pod in self._orphans.pop(key, {}).values():
            scaler.on_pod(pod, deleted=False)
        task = tg.create_task(self._supervise(scaler), name=f"autoscaler-{key[0]}-{key[1]}")
        self._scalers[key] = (scaler, task)

    def _update_scaler(self, key: tuple[str, str]) -> None:
        found = self._scalers.get(key)
        revision = self._revisions.get(key)
        if found is not None and revision is not None:
            found[0].update(revision, self._settings(revision), self.catalog)

    async def _supervise(self, scaler: RevisionScaler) -> None:
        await self.ready.wait()  # every Pod is known before the first decision
        failures = 0
        while True:
            try:
                await scaler.run()
                return
            except Exception:
                failures += 1
                delay = min(30.0, 0.1 * 2**failures)
                log.exception(
                    "autoscaler of revision %s/%s failed; restarting in %.1fs",
                    scaler.namespace,
                    scaler.name,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _on_pod(self, event: WatchEvent) -> None:
        metadata = event.object.get("metadata") or {}
        revision = (metadata.get("labels") or {}).get(pods.REVISION_LABEL)
        if not revision:
            return
        key = (str(metadata.get("namespace", "")), str(revision))
        deleted = event.type == "DELETED"
        found = self._scalers.get(key)
        if found is not None:
            found[0].on_pod(event.object, deleted=deleted)
            return
        orphans = self._orphans.setdefault(key, {})
        if deleted:
            orphans.pop(metadata["name"], None)
            if not orphans:
                del self._orphans[key]
        else:
            orphans[metadata["name"]] = event.object

    async def _on_route(self, event: WatchEvent) -> None:
        if event.type == "DELETED":
            metadata = event.object["metadata"]
            self.table.remove_route(str(metadata.get("namespace", "")), str(metadata["name"]))
        else:
            self.table.set_route(event.object)
