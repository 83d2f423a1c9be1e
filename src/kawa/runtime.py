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
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import orjson
from aiohttp import web

from kawa import allocator, files, heap, listeners, startup, workers
from kawa.addressables import AddressablePlanes
from kawa.apis import core
from kawa.apis.core import pod as core_pod
from kawa.apis.eventing import broker as broker_api
from kawa.apis.messaging import inmemorychannel as imc_api
from kawa.apiserver import access
from kawa.apiserver.oidc import ServiceAccountTokens
from kawa.apiserver.server import ApiServer
from kawa.backends import EVENT_LOG_BACKENDS, STORE_BACKENDS, backends
from kawa.broker import ttl
from kawa.broker.dataplane import BrokerDataPlane
from kawa.broker.ingress import DEFAULT_MAX_EVENT_SIZE, broker_ingress
from kawa.broker.oidc import DataPlaneIdentity
from kawa.broker.replays import Replays
from kawa.channels.dataplane import ChannelDataPlane
from kawa.channels.ingress import channel_ingress
from kawa.console.server import Console
from kawa.controllers import nodes
from kawa.controllers.messaging import (
    default_channel_template,
)
from kawa.coordination.election import LeaderElector, Timing
from kawa.coordination.exclusive import LeaseGate
from kawa.datadir import DEFAULT_DATA_DIR, SERVER_FILE
from kawa.delivery.sender import Dispatcher
from kawa.delivery.trust import Trust
from kawa.dispatch import stats
from kawa.dispatch.budget import DEFAULT_MAX_IN_FLIGHT_BYTES, DeliveryBudget
from kawa.dispatch.eventtypes import EventTypeRecorder
from kawa.dispatch.ingress import lean_pick
from kawa.dispatch.running import Trimmer
from kawa.eventlog.sqlite import Durability
from kawa.identity.keyring import SigningKeys
from kawa.jetstream import NatsOptions
from kawa.leader import run_once
from kawa.listeners import ListenError
from kawa.observability import endpoint as metrics_endpoint
from kawa.observability import subresources as diagnostics
from kawa.observability import tracing
from kawa.observability.measured import Measured
from kawa.observability.metrics import Metrics
from kawa.observability.store_writes import CountingStore
from kawa.reconciler import resolver
from kawa.reconciler.trust_bundles import LiveTrustBundles
from kawa.serving import services as services_module
from kawa.serving.concurrency_nats import NatsReports
from kawa.serving.dataplane import ServingDataPlane
from kawa.serving.kubelet import Kubelet, runtime_choice
from kawa.serving.kubelet.api_access import ApiAccess
from kawa.serving.kubelet.proxy import KubeletProxy
from kawa.serving.pod_relay import PodRelay
from kawa.serving.services import ServiceProxy
from kawa.sources.sinkbinding import bind_on_create
from kawa.startup import make_private
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

DEFAULT_PORT: Final = 7080
DEFAULT_API_PORT: Final = 7443
SHUTDOWN_TIMEOUT: Final = 2.0
"""Seconds a stopping kawa gives open requests (watches) before closing them."""
SWITCH_INTERVAL: Final = 0.0005
"""Seconds a thread may hold the GIL while another waits (CPython's default is 0.005)."""


@dataclass(frozen=True, slots=True)
class Config:
    """Settings of one kawa process (the flags of ``kawa up``)."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_port: int = DEFAULT_API_PORT
    https_port: int = 0
    """The data plane's HTTPS port (transport-encryption; 0: a free one, named in the
    https addresses and in server.json)."""
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
    dead_letter_store: bool = True
    """Whether given-up events without a dead-letter sink are kept (``kawa deadletters``)."""
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
    settle_heap: bool = False
    """Freeze the heap alive once ready and collect garbage less often (:mod:`kawa.heap`):
    ``kawa up`` does, a kawa run inside another program (the tests) does not."""


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
    startup.make_private(config.data_dir)
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
        await startup.seed(store)
        identity = workers.identity(config.node_name, config.worker)
        tracer = await exits.enter_async_context(tracing.tracer(config.tracing, instance=identity))
        # kawa issues ServiceAccount tokens (kubectl create token), one key ring per store;
        # with authentication-oidc on, ingress verifies them and kawa's senders present them
        signing_keys = SigningKeys(store)
        oidc = DataPlaneIdentity(store, signing_keys)
        token = access.ensure_token(config.data_dir)
        cert, key = access.ensure_certificate(
            config.data_dir, config.host, config.advertise_address
        )
        # deliveries to https:// addresses verify against the system's CAs, kawa's own, the
        # trust bundles (followed live) and the destination's CACerts
        trust = Trust(own_ca=cert.read_text())
        bundles = LiveTrustBundles(store, trust)
        async with Dispatcher(tokens=oidc.token, trust=trust) as dispatcher:
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
                dead_letter_store=config.dead_letter_store,
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
                dead_letter_store=config.dead_letter_store,
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
            dataplane.reply_check = oidc.reply_check("broker", dataplane.policies_of)
            channels.reply_check = oidc.reply_check("channel", channels.policies_of)
            live = oidc.features
            event_types = EventTypeRecorder(store, lambda: live.current.eventtype_auto_create)
            dataplane.event_types = channels.event_types = event_types
            service_account_tokens = ServiceAccountTokens(store, signing_keys)
            ingress = broker_ingress(
                dataplane,
                max_event_size=config.max_event_size,
                reporter=reporter,
                tracer=tracer,
                authorize=oidc.sender_check(
                    "broker", broker_api.API_VERSION, broker_api.KIND, dataplane.policies_of
                ),
            )
            channel_in = channel_ingress(
                channels,
                max_event_size=config.max_event_size,
                reporter=reporter,
                tracer=tracer,
                authorize=oidc.sender_check(
                    "channel", imc_api.API_VERSION, imc_api.KIND, channels.policies_of
                ),
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
            planes = AddressablePlanes(
                store,
                dispatcher,
                dataplane,
                oidc,
                max_event_size=config.max_event_size,
                nats=config.nats,
                identity=identity,
            )
            planes.install(app)
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
            api.add_subresource(core.SERVICE_ACCOUNT.plural, "token", service_account_tokens.token)
            service_account_tokens.install(app)
            diagnostics.install(api, store, event_log, max_ttl=config.max_broker_ttl)
            diagnostics.install_dead_letters(api, store, dispatcher, dataplane, channels)
            api.install(app)
            Console(
                store,
                event_log,
                dataplane.consumer,
                channels.subscriber_consumer,
                dataplane.dead_letters,
            ).install(app)
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
            lean_front = None
            if config.lean_ingress:  # ingress POSTs on the lean path, the rest on aiohttp
                claims = (relay.claims, serving.claims, services.claims)
                lean_front = lean.LeanFront(
                    lean_pick([ingress, channel_in], claims),
                    max_body=config.max_event_size,
                    extra_headers=workers.extra_headers(config.worker),
                )
            listening = await listeners.start(
                runner,
                host=config.host,
                port=config.port,
                api_port=config.api_port,
                api_ssl=access.server_ssl_context(cert, key),
                https_port=config.https_port,
                data_ssl=access.data_plane_ssl_context(cert, key),
                limits=config.limits,
                advertise_address=config.advertise_address,
                lean_front=lean_front,
                reuse_port=config.worker is not None,
                node_agent=config.worker == workers.NODE_AGENT,
            )
            url, api_url = listening.url, listening.api_url
            service_account_tokens.issuer = oidc.issuer = api_url
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
            dispatcher.connect(
                services_module.cluster_names_to(listening.http_sock.getsockname()[:2])
            )
            kubelet.node.port = listening.port  # the Node's kubelet endpoint
            kubelet.node.api = ApiAccess(  # what Pods' in-cluster clients call
                config.host, listening.api_port, token, cert.read_bytes()
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
                # made (or read) beside start-up: a new RSA key takes ~0.1 s of CPU
                tg.create_task(signing_keys.prepare(), name="service-account-keys")
                tg.create_task(oidc.run(), name="oidc")
                tg.create_task(bundles.run(), name="trust-bundles")
                await bundles.listed.wait()  # the first deliveries trust the stored bundles
                tg.create_task(event_types.run(), name="eventtype-auto-create")
                tg.create_task(dataplane.run(), name="broker-dataplane")
                await dataplane.ready.wait()
                channels.serve_at(url)
                tg.create_task(channels.run(), name="channel-dataplane")
                planes.start(tg)
                await channels.ready.wait()
                node_agent = workers.runs_node_agent(config.worker)
                if node_agent:
                    # in this (the loop's) thread: a child's PR_SET_PDEATHSIG follows the
                    # thread that started it
                    tg.create_task(kubelet.run(), name="kubelet")
                    await kubelet.ready.wait()
                tg.create_task(serving.run(), name="serving-dataplane")
                if node_agent:
                    tg.create_task(
                        startup.node_lease(
                            store, config.node_name, config.node_monitor_grace_period
                        ).run(),
                        name="node-lease",
                    )

                async def lead() -> None:
                    async with asyncio.TaskGroup() as leading:
                        # the Revisions' scale: decided here, from every process's reports
                        leading.create_task(serving.lead(), name="autoscaler")
                        # Replays deliver from this process's broker data plane, once
                        replays = Replays(store, dataplane)
                        leading.create_task(replays.run(), name="controller-replays")
                        await run_once(
                            store,
                            dispatcher,
                            config,
                            url=url,
                            api_url=api_url,
                            https_url=listening.https_url,
                            ca_certs=cert.read_text(),
                        )

                elector = LeaderElector(store, identity, timing=config.leader_election)
                tg.create_task(elector.run(lead), name="leader-election")
                if config.settle_heap:  # before the ready file: a client's load meets it settled
                    began = time.perf_counter()
                    frozen = heap.settle()
                    log.info(
                        "the started heap is frozen (%d objects, in %.0f ms; kawa.heap)",
                        frozen,
                        (time.perf_counter() - began) * 1000,
                    )
                files.write_private(
                    server_file,
                    orjson.dumps(
                        {
                            "url": url,
                            "apiUrl": api_url,
                            "httpsUrl": listening.https_url,
                            "pid": os.getpid(),
                            **({"metricsUrl": metrics_url} if metrics_url else {}),
                            **listening.worker_zero,
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
            if startup.owned_by_us(server_file):
                server_file.unlink()
        await exits.aclose()
        if runner is not None:
            await runner.cleanup()
        await event_log.close()
        await store.close()
