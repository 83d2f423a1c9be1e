"""The composition root: builds and runs everything for ``kawa up``.

One asyncio process holds the resource store, the event log, the HTTP server (the API and
the broker ingress on one port), the controllers and the broker data plane, all owned by one
``asyncio.TaskGroup``. :func:`serve` runs until cancelled (SIGINT/SIGTERM in the CLI) and
then closes everything in reverse order, leaving nothing behind.

The resource store and the event log are opened by name (``Config.store_backend``,
``Config.event_log_backend``) from :data:`~kawa.backends.STORE_BACKENDS` and
:data:`~kawa.backends.EVENT_LOG_BACKENDS` (:mod:`kawa.backends`).

On start it writes ``<data-dir>/server.json`` (the URL and pid) so that the CLI finds the
server from the data dir; it removes the file on a clean stop. A worker of ``kawa up
--workers N`` (``Config.worker``, see :mod:`kawa.cli.workers` and ADR "workers") writes
``<data-dir>/workers/<index>.json`` instead, binds its ports with ``SO_REUSEPORT`` next to
its siblings, and runs the node's kubelet and heartbeat only as worker 0.

The data dir is private (:mod:`kawa.files`): created 0700, every file in it 0600; a data dir
an older kawa left readable by others is tightened on start (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import os
import socket
import ssl
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import orjson
from aiohttp import web

from kawa import allocator, files, workers
from kawa.apis import core
from kawa.apis.core import pod as core_pod
from kawa.apis.registry import SCHEME
from kawa.apiserver import access, crds
from kawa.apiserver.server import ApiServer
from kawa.backends import EVENT_LOG_BACKENDS, STORE_BACKENDS, backends
from kawa.broker import ttl
from kawa.broker.dataplane import BrokerDataPlane
from kawa.broker.ingress import DEFAULT_MAX_EVENT_SIZE, broker_ingress
from kawa.channels.dataplane import ChannelDataPlane
from kawa.channels.ingress import channel_ingress
from kawa.console.server import Console
from kawa.controllers import nodes
from kawa.controllers.eventing import ensure_broker_configs
from kawa.controllers.messaging import (
    default_channel_template,
    ensure_channel_defaults,
)
from kawa.controllers.namespaces import ensure_namespaces
from kawa.controllers.serving_config import ensure_serving_config
from kawa.coordination import node_lease
from kawa.coordination.election import LeaderElector, Timing
from kawa.coordination.exclusive import LeaseGate
from kawa.delivery.sender import Dispatcher
from kawa.dispatch import stats
from kawa.dispatch.budget import DEFAULT_MAX_IN_FLIGHT_BYTES, DeliveryBudget
from kawa.dispatch.ingress import lean_pick
from kawa.dispatch.running import Trimmer
from kawa.errors import ConflictError, KawaError
from kawa.eventlog.sqlite import Durability
from kawa.jetstream import NatsOptions
from kawa.leader import run_once
from kawa.observability import endpoint as metrics_endpoint
from kawa.observability import subresources as diagnostics
from kawa.observability import tracing
from kawa.observability.measured import Measured
from kawa.observability.metrics import Metrics
from kawa.observability.store_writes import CountingStore
from kawa.reconciler import resolver
from kawa.serving import services as services_module
from kawa.serving.concurrency_nats import NatsReports
from kawa.serving.dataplane import ServingDataPlane
from kawa.serving.kubelet import Kubelet, runtime_choice
from kawa.serving.kubelet.api_access import ApiAccess
from kawa.serving.kubelet.proxy import KubeletProxy
from kawa.serving.pod_relay import PodRelay
from kawa.serving.services import ServiceProxy
from kawa.sources.sinkbinding import bind_on_create
from kawa.store.base import ResourceStore
from kawa.store.mutating import MutatingStore
from kawa.transport import lean
from kawa.transport import server as http_server
from kawa.transport.front import front_door

log = logging.getLogger(__name__)

__all__ = [
    "EVENT_LOG_BACKENDS",
    "STORE_BACKENDS",
    "Config",
    "ListenError",
    "Running",
    "backends",
    "make_private",
    "run_once",
    "serve",
]

SERVER_FILE: Final = "server.json"
DATA_DIR_ENTRIES: Final = (
    "resources.db*",
    "events.db*",
    access.TOKEN_FILE,
    access.KUBECONFIG_FILE,
    "tls",
    SERVER_FILE,
    workers.WORKERS_DIR,
    "kubelet",
    "sources",
)
"""What kawa keeps in its data dir (globs): made private on start, if an older kawa left it
readable by others."""
DEFAULT_PORT: Final = 7080
DEFAULT_API_PORT: Final = 7443
DEFAULT_DATA_DIR: Final = ".kawa"
MAX_HEADER_LINE: Final = 64 * 1024
MAX_HEADER_FIELD: Final = 256 * 1024
READ_BUFFER: Final = 32 * 1024
HANDLER_OPTIONS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "access_log": None,
        # Knative's servers take large headers (binary-mode extensions are headers)
        "max_line_size": MAX_HEADER_LINE,
        "max_field_size": MAX_HEADER_FIELD,
        # a connection's unread body buffer (twice this before reading pauses): half of
        # aiohttp's default halves what many connections sending bodies at once hold beyond
        # the body budget (bench/slow_bodies.py: 400 of them, +330 MiB peak -> +150 MiB)
        "read_bufsize": READ_BUFFER,
    }
)
"""Options of aiohttp's request handler for the connections of both listeners."""
SHUTDOWN_TIMEOUT: Final = 2.0
"""Seconds a stopping kawa gives open requests (watches) before closing them."""
SWITCH_INTERVAL: Final = 0.0005
"""Seconds a thread may hold the GIL while another waits (CPython's default is 0.005)."""


class ListenError(KawaError):
    """A port cannot be bound (in use, not permitted, no such address)."""


@dataclass(frozen=True, slots=True)
class Config:
    """Settings of one kawa process (the flags of ``kawa up``)."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_port: int = DEFAULT_API_PORT
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    durability: Durability = "full"
    retention: float = 0.0
    max_in_flight: int = 100
    max_in_flight_bytes: int = DEFAULT_MAX_IN_FLIGHT_BYTES
    """Payload bytes all consumers together hold in deliveries (``kawa.dispatch.budget``)."""
    max_broker_ttl: int = ttl.DEFAULT_MAX_TTL
    """The highest ``knativebrokerttl`` a broker stores; larger ones are capped to it."""
    max_delivery_lag: float = 0.0
    """Seconds an event may wait in a broker before ingress answers 429 (0: never)."""
    lean_ingress: bool = True
    """Serve broker and channel ingress on the plain-HTTP port's lean path
    (:mod:`kawa.transport.lean`; ``kawa up --no-lean-ingress``: all on aiohttp)."""
    store_backend: str = "sqlite"
    """The resource store: a key of :data:`STORE_BACKENDS` (``kawa up --ephemeral``: memory)."""
    event_log_backend: str = "sqlite"
    """The event log: a key of :data:`EVENT_LOG_BACKENDS` (``kawa up --ephemeral``: memory)."""
    max_event_log_size: int = 0
    """Bytes ``events.db`` may take (0: the disk is the limit); beyond, the broker answers
    507 until delivered events are trimmed (``kawa up --max-event-log-size``)."""
    limits: http_server.ServerLimits = field(default_factory=http_server.ServerLimits)
    """Timeouts, connection cap and body budget of both ports (docs/http-server-limits.md)."""
    nats: NatsOptions | None = None
    """NATS JetStream (``kawa up --nats``), for the ``jetstream`` backends."""
    node_name: str = core_pod.NODE_NAME
    """This node's name (``kawa up --node-name``): its identity in leader election and its
    heartbeat Lease in ``kube-node-lease``."""
    leader_election: Timing = field(default_factory=Timing)
    """Lease duration, renew deadline and retry period of leader election."""
    worker: int | None = None
    """This process's index among the workers of ``kawa up --workers N`` (None: kawa runs
    alone; :mod:`kawa.workers`)."""
    advertise_address: str = "127.0.0.1"
    """This node's address for the others (``kawa up --advertise-address``): its Node's
    ``InternalIP``."""
    node_monitor_grace_period: float = nodes.DEFAULT_GRACE_PERIOD
    """Seconds a node may go without renewing its heartbeat Lease before the leader marks it
    lost and fails its Pods (``kawa up --node-monitor-grace-period``); the Lease is renewed
    four times in that period."""
    metrics: metrics_endpoint.MetricsEndpoint | None = None
    """Where to serve Prometheus metrics (``kawa up --metrics-port``; None: nowhere, and the
    data plane reports to no one)."""
    tracing: tracing.TracingConfig | None = None
    """Where to export spans (``OTEL_*`` variables, :mod:`kawa.observability.tracing`; None:
    no tracing)."""
    runtime: str = "process"
    """The kubelet's container runtime (``kawa up --runtime``: ``auto``, ``process`` or
    ``podman``; :mod:`kawa.serving.kubelet.runtime_choice`)."""


@dataclass(frozen=True, slots=True)
class Running:
    """What :func:`serve` reports once it listens."""

    url: str
    """The plain-HTTP listener: broker ingress, and the API for token holders."""
    api_url: str
    """The HTTPS listener for kubectl and Kubernetes clients (see ``kubeconfig``)."""
    data_dir: Path
    token: str
    kubeconfig: Path
    metrics_url: str | None = None
    """The Prometheus endpoint (``None``: metrics are off)."""


async def serve(config: Config, on_ready: Callable[[Running], None] | None = None) -> None:
    """Run kawa until cancelled."""
    open_store, open_event_log = backends(config)
    # The event log's writer thread hands every commit back to the loop; with CPython's
    # default 5 ms GIL switch interval each hand-off can wait that long behind a busy loop.
    sys.setswitchinterval(SWITCH_INTERVAL)
    # Payload buffers of large events go back to the OS when freed, not to a heap that keeps
    # a burst's peak (see kawa.allocator).
    allocator.return_large_blocks()
    make_private(config.data_dir)
    # every writer's creates pass the SinkBinding's hook and the Channel's default template
    # (Knative's mutating webhooks)
    opened = await open_store(config)
    store: ResourceStore = MutatingStore(
        opened, [bind_on_create(opened), default_channel_template(opened)]
    )
    try:
        event_log = await open_event_log(config)
    except BaseException:
        await store.close()
        raise
    server_file = (
        config.data_dir / SERVER_FILE
        if config.worker is None
        else workers.state_file(config.data_dir, config.worker)
    )
    runner: web.AppRunner | None = None
    exits = contextlib.AsyncExitStack()
    try:
        await _seed(store)
        identity = workers.identity(config.node_name, config.worker)
        tracer = await exits.enter_async_context(tracing.tracer(config.tracing, instance=identity))
        async with Dispatcher() as dispatcher:
            metrics = Metrics() if config.metrics is not None else None
            reporter: stats.Reporter = metrics if metrics is not None else stats.NO_REPORTER
            if metrics is not None:  # every writer's writes counted (kawa_store_writes_total)
                store = CountingStore(store, metrics.store_write)
            delivery_budget = DeliveryBudget(config.max_in_flight_bytes)
            trimmer = Trimmer(event_log, retention=config.retention, interval=30.0)
            dataplane = BrokerDataPlane(
                store,
                event_log,
                dispatcher,
                max_in_flight=config.max_in_flight,
                max_ttl=config.max_broker_ttl,
                max_delivery_lag=config.max_delivery_lag,
                budget=delivery_budget,
                trimmer=trimmer,
                ordered_gate=(
                    LeaseGate(
                        store,
                        workers.identity(config.node_name, config.worker),
                        config.leader_election,
                    )
                    if config.event_log_backend == "jetstream"
                    else None
                ),
                reporter=reporter,
                tracer=tracer,
                identity=identity,
            )
            channels = ChannelDataPlane(
                store,
                event_log,
                dispatcher,
                budget=delivery_budget,
                trimmer=trimmer,
                max_in_flight=config.max_in_flight,
                reporter=reporter,
                tracer=tracer,
                identity=identity,
            )
            token = access.ensure_token(config.data_dir)
            cert, key = access.ensure_certificate(
                config.data_dir, config.host, config.advertise_address
            )
            relay = PodRelay(store, config.node_name)  # Pods on other nodes, through theirs
            serving = ServingDataPlane(
                store,
                bus=None if config.nats is None else NatsReports(config.nats, identity),
                identity=identity,
                pods=relay.directory,
                reporter=reporter,
            )
            services = ServiceProxy(store, relay.directory)
            # a Pod's log, exec and port-forward reach the process whose kubelet runs it
            hops = KubeletProxy(
                store,
                config.node_name,
                kubelet_here=workers.runs_node_agent(config.worker),
                node_address=relay.directory.node_address,
                worker_zero_url=lambda: workers.kubelet_url(config.data_dir),
            )
            await hops.prepare()
            ingress = broker_ingress(
                dataplane, max_event_size=config.max_event_size, reporter=reporter, tracer=tracer
            )
            channel_in = channel_ingress(
                channels, max_event_size=config.max_event_size, reporter=reporter, tracer=tracer
            )
            app = web.Application(
                client_max_size=config.max_event_size,
                # by Host first: Knative Routes, Knative's broker-ingress and channel
                # addresses, v1 Services
                middlewares=[
                    front_door(
                        [
                            relay.host_handler(),
                            serving.host_handler(),
                            ingress.host_handler(),
                            channel_in.host_handler(),
                            services.host_handler(),
                        ],
                        access.token_guard(token, signed=hops.signed),
                    )
                ],
            )
            app.add_routes(ingress.routes())
            app.add_routes(channel_in.routes())
            app.add_routes(serving.routes())
            app.add_routes(services.routes())
            podman = await asyncio.to_thread(runtime_choice.choose, config.runtime, config.data_dir)
            kubelet = Kubelet(
                store,
                config.data_dir,
                node_name=config.node_name,
                address=config.advertise_address,
                podman=podman,
            )
            api = ApiServer(store)
            api.add_subresource(core.POD.plural, "log", hops.wrap(kubelet.pod_log))
            api.add_subresource(core.POD.plural, "exec", hops.wrap(kubelet.pod_exec))
            api.add_subresource(core.POD.plural, "portforward", hops.wrap(kubelet.pod_port_forward))
            diagnostics.install(api, store, event_log, max_ttl=config.max_broker_ttl)
            api.install(app)
            Console(store, event_log, dataplane.consumer, channels.subscriber_consumer).install(app)
            if config.worker is not None:
                app.on_response_prepare.append(workers.header_hook(config.worker))
            runner = web.AppRunner(
                app,
                handle_signals=False,
                # A client that goes away (an abandoned watch) cancels its handler, and a stop
                # does not wait a minute for open watches to end.
                handler_cancellation=True,
                shutdown_timeout=SHUTDOWN_TIMEOUT,
            )
            await runner.setup()
            reuse_port = config.worker is not None
            http_sock = _listen(config.host, config.port, reuse_port=reuse_port)
            try:
                api_sock = _listen(config.host, config.api_port, reuse_port=reuse_port)
            except OSError:
                http_sock.close()
                raise
            # both listeners bound their connections and share one budget of body bytes
            # (kawa.transport.server); the request-handler options go to the sites
            warning = http_server.fit_file_limit(config.limits.max_connections)
            if warning:
                log.warning("%s", warning)
            budget = http_server.BodyBudget(config.limits.max_buffered_bytes)
            lean_front = None
            if config.lean_ingress:  # ingress POSTs on the lean path, the rest on aiohttp
                claims = (relay.claims, serving.claims, services.claims)
                lean_front = lean.LeanFront(
                    lean_pick([ingress, channel_in], claims),
                    max_body=config.max_event_size,
                    extra_headers=workers.extra_headers(config.worker),
                )
            sites: list[tuple[socket.socket, ssl.SSLContext | None, int, lean.LeanFront | None]]
            sites = [
                (http_sock, None, 1024, lean_front),
                (api_sock, access.server_ssl_context(cert, key), 128, None),
            ]
            worker_zero: dict[str, str] = {}
            if config.worker == workers.NODE_AGENT:  # its siblings' way to its kubelet
                kubelet_sock = _listen("127.0.0.1", 0)
                sites.append((kubelet_sock, None, 128, None))
                port = kubelet_sock.getsockname()[1]
                worker_zero[workers.KUBELET_URL] = f"http://127.0.0.1:{port}"
            for sock, ssl_context, backlog, front in sites:
                await http_server.BoundedSite(
                    runner,
                    sock,
                    limits=config.limits,
                    budget=budget,
                    ssl_context=ssl_context,
                    backlog=backlog,
                    front=front,
                    **HANDLER_OPTIONS,
                ).start()
            # listening on every address (0.0.0.0): the URLs name the advertised one, which
            # other nodes and machines reach (status URLs, kubeconfig, server.json)
            reach = config.advertise_address if config.host in access.WILDCARDS else config.host
            host = f"[{reach}]" if ":" in reach else reach
            url = f"http://{host}:{http_sock.getsockname()[1]}"
            api_url = f"https://{host}:{api_sock.getsockname()[1]}"
            kubeconfig = (
                access.write_kubeconfig(
                    config.data_dir, api_url, token, cert, config.advertise_address
                )
                if config.worker is None
                else config.data_dir / access.KUBECONFIG_FILE  # the supervisor wrote it
            )
            # v1 Services a Destination names resolve to their path form on this port, and
            # deliveries to cluster names (http://x.ns.svc.cluster.local) come here by Host
            resolver.SERVICES_URL.set(f"{url}{services_module.PREFIX.rstrip('/')}")
            dispatcher.connect(services_module.cluster_names_to(http_sock.getsockname()[:2]))
            kubelet.node.port = http_sock.getsockname()[1]  # the Node's kubelet endpoint
            kubelet.node.api = ApiAccess(  # what Pods' in-cluster clients call
                config.host, api_sock.getsockname()[1], token, cert.read_bytes()
            )
            if config.nats is not None:  # other nodes may send it Pod traffic
                relay.check_listening(config.host, config.advertise_address, kubelet.node.port)
            metrics_url = None
            if config.metrics is not None and metrics is not None:
                metrics_url = await exits.enter_async_context(
                    metrics_endpoint.serving(
                        config.metrics,
                        metrics,
                        Measured(
                            event_log,
                            lambda: [*dataplane.started_consumers(), *channels.started_consumers()],
                            serving.scalers,
                        ),
                    )
                )
            async with asyncio.TaskGroup() as tg:
                tg.create_task(relay.run(), name="pod-relay")
                tg.create_task(services.run(), name="service-proxy")
                tg.create_task(trimmer.run(), name="event-log-trimmer")
                tg.create_task(dataplane.run(), name="broker-dataplane")
                await dataplane.ready.wait()
                channels.serve_at(url)
                tg.create_task(channels.run(), name="channel-dataplane")
                await channels.ready.wait()
                node_agent = workers.runs_node_agent(config.worker)
                if node_agent:
                    # in this (the loop's) thread: a child's PR_SET_PDEATHSIG follows the
                    # thread that started it
                    tg.create_task(kubelet.run(), name="kubelet")
                    await kubelet.ready.wait()
                tg.create_task(serving.run(), name="serving-dataplane")
                if node_agent:
                    tg.create_task(_node_lease(store, config).run(), name="node-lease")

                async def lead() -> None:
                    async with asyncio.TaskGroup() as leading:
                        # the Revisions' scale: decided here, from every process's reports
                        leading.create_task(serving.lead(), name="autoscaler")
                        await run_once(store, dispatcher, config, url=url, api_url=api_url)

                elector = LeaderElector(store, identity, timing=config.leader_election)
                tg.create_task(elector.run(lead), name="leader-election")
                files.write_private(
                    server_file,
                    orjson.dumps(
                        {
                            "url": url,
                            "apiUrl": api_url,
                            "pid": os.getpid(),
                            **({"metricsUrl": metrics_url} if metrics_url else {}),
                            **worker_zero,
                        },
                        option=orjson.OPT_INDENT_2,
                    ),
                )
                log.info(
                    "kawa is listening on %s and %s (data in %s)", url, api_url, config.data_dir
                )
                if on_ready is not None:
                    on_ready(Running(url, api_url, config.data_dir, token, kubeconfig, metrics_url))
    finally:
        with contextlib.suppress(FileNotFoundError):
            if _owned_by_us(server_file):
                server_file.unlink()
        await exits.aclose()
        if runner is not None:
            await runner.cleanup()
        await event_log.close()
        await store.close()


def _node_lease(store: ResourceStore, config: Config) -> node_lease.NodeLease:
    """This node's heartbeat, renewed four times per grace period (at most every 10 s)."""
    grace = config.node_monitor_grace_period
    return node_lease.NodeLease(
        store,
        config.node_name,
        interval=min(node_lease.RENEW_INTERVAL, grace / 4),
        duration=max(1, math.ceil(grace)),
    )


def make_private(data_dir: Path) -> None:
    """Create the data dir 0700, or take group and other permissions off an existing one and
    everything in it (logged: an older kawa left it readable by every local user)."""
    existed = data_dir.is_dir()
    files.make_dir(data_dir)
    if not existed:
        return
    changed = files.tighten(data_dir, DATA_DIR_ENTRIES)
    if changed:
        shown = ", ".join(str(path.relative_to(data_dir)) for path in changed[:5])
        log.warning(
            "the data dir %s was readable by other users: made %d path(s) private (%s%s)",
            data_dir,
            len(changed),
            shown,
            ", ..." if len(changed) > 5 else "",
        )


def _listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket (port 0: a free one), so the bound port is known at once;
    with ``reuse_port``, one of the workers' sockets sharing the port (``SO_REUSEPORT``: the
    kernel spreads new connections over them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ListenError(
                f"cannot listen on {host}:{port}: the address is already in use (is something "
                "already running there? choose another --port / --api-port)"
            ) from None
        raise ListenError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock


def _owned_by_us(server_file: Path) -> bool:
    try:
        return bool(orjson.loads(server_file.read_bytes()).get("pid") == os.getpid())
    except (OSError, orjson.JSONDecodeError):
        return False


async def _seed(store: ResourceStore, attempts: int = 10) -> None:
    """Store what every kawa starts with (namespaces, CRDs, configuration). Nodes starting at
    once on one JetStream store race on these writes: the loser of a race (a conflict) does
    it all again, reading what the winner wrote (each step leaves what is right alone)."""
    for attempt in range(1, attempts + 1):
        try:
            await ensure_namespaces(store)
            await crds.sync(store, SCHEME)
            await ensure_serving_config(store)
            await ensure_broker_configs(store)
            await ensure_channel_defaults(store)
            return
        except ConflictError:
            if attempt == attempts:
                raise
            await asyncio.sleep(0.05 * attempt)
