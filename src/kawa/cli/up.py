"""``kawa up``: run kawa in the foreground, alone or as ``--workers N`` (:mod:`kawa.cli.workers`).

Its flags become a :class:`~kawa.runtime.Config` (docs/cli.md lists them); a bad value is a
usage error naming the flag, never a traceback. Tracing is configured by OpenTelemetry's
``OTEL_*`` environment variables (:mod:`kawa.observability.tracing`), read by every worker.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from kawa import __version__
from kawa.apis import meta
from kawa.apis.core.pod import NODE_NAME
from kawa.broker.ttl import DEFAULT_MAX_TTL
from kawa.cli import workers
from kawa.cli.client import startup_error
from kawa.cli.nats_options import nats_options
from kawa.cli.options import data_dir_option
from kawa.cli.runner import run_async, setup_logging
from kawa.controllers.nodes import DEFAULT_GRACE_PERIOD
from kawa.coordination.election import Timing
from kawa.dispatch.budget import DEFAULT_MAX_IN_FLIGHT_BYTES
from kawa.jetstream import NatsOptions
from kawa.observability.endpoint import DEFAULT_HOST as METRICS_HOST
from kawa.observability.endpoint import DEFAULT_PORT as METRICS_PORT
from kawa.observability.endpoint import MetricsEndpoint
from kawa.observability.tracing import from_environ as tracing_from_environ
from kawa.runtime import DEFAULT_API_PORT, DEFAULT_PORT, Config, Running, serve
from kawa.serving.kubelet import runtime_choice
from kawa.transport import server as http_server


@click.command()
@data_dir_option
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Plain-HTTP port: broker ingress and Services (the API too, for token holders; "
    "the kawa CLI sends its token only over --api-port).",
)
@click.option(
    "--api-port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_API_PORT,
    show_default=True,
    help="HTTPS port of the API for kubectl (see `kawa kubeconfig`) and the kawa CLI.",
)
@click.option(
    "--https-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="HTTPS port of the data plane (transport-encryption in ConfigMap "
    "knative-eventing/config-features); 0: a free one, named in the https addresses.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--durability",
    type=click.Choice(["full", "normal", "off"]),
    default="full",
    show_default=True,
    help="What an acknowledged event survives (see docs/event-log.md).",
)
@click.option(
    "--max-event-size",
    type=click.IntRange(1024),
    default=4 * 1024 * 1024,
    show_default=True,
    help="Largest event (bytes) the broker ingress accepts; larger ones get 413.",
)
@click.option(
    "--retention",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Seconds to keep events after every trigger is past them.",
)
@click.option(
    "--max-event-log-size",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Most bytes events.db may take (0: as much as the disk has); when full, the broker "
    "answers 507 until delivered events are trimmed.",
)
@click.option(
    "--max-in-flight-bytes",
    type=click.IntRange(1024 * 1024),
    default=DEFAULT_MAX_IN_FLIGHT_BYTES,
    show_default=True,
    help="Payload bytes all triggers together hold in deliveries; past it, triggers wait"
    " before reading more events from the log (see docs/delivery.md).",
)
@click.option(
    "--max-broker-ttl",
    type=click.IntRange(1),
    default=DEFAULT_MAX_TTL,
    show_default=True,
    help="Highest knativebrokerttl a broker keeps: a sender's larger value is capped to it,"
    " so an event loops through a broker at most this many times.",
)
@click.option(
    "--max-delivery-lag",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Seconds an event may wait in a broker for its delivery to start; past it the"
    " broker's ingress answers 429 with Retry-After (0: never push back).",
)
@click.option(
    "--lean-ingress/--no-lean-ingress",
    default=True,
    show_default=True,
    help="Serve broker and channel ingress POSTs on the plain-HTTP port with kawa's lean"
    " httptools path (everything else, and everything with --no-lean-ingress, on aiohttp).",
)
@click.option(
    "--dead-letter-store/--no-dead-letter-store",
    default=True,
    show_default=True,
    help="Keep the events a trigger or subscription without a dead-letter sink gives up in"
    " kawa's dead-letter store (`kawa deadletters`) instead of dropping them.",
)
@click.option("--ephemeral", is_flag=True, help="Keep nothing on disk (for experiments).")
@click.option(
    "--header-timeout",
    type=click.FloatRange(0, min_open=True),
    default=http_server.DEFAULT_HEADER_TIMEOUT,
    show_default=True,
    help="Seconds a client has to send a whole request head; slower ones get 408 and are "
    "closed (also the TLS handshake time on --api-port).",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0, min_open=True),
    default=http_server.DEFAULT_IDLE_TIMEOUT,
    show_default=True,
    help="Seconds a kept-alive connection may wait for its next request before it is closed.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(0, min_open=True),
    default=http_server.DEFAULT_BODY_TIMEOUT,
    show_default=True,
    help="Seconds a request body may stall (none of it arriving) before it gets 408.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=http_server.DEFAULT_MAX_CONNECTIONS,
    show_default=True,
    help="Connections each port holds at once; one more gets 503 and is closed.",
)
@click.option(
    "--max-buffered-bytes",
    type=click.IntRange(1024),
    default=http_server.DEFAULT_MAX_BUFFERED_BYTES,
    show_default=True,
    help="Bytes of request bodies held at once by all requests (at least --max-event-size); "
    "past it, requests with bodies get 503 and Retry-After.",
)
@click.option(
    "--node-name",
    default=NODE_NAME,
    show_default=True,
    help="This node's name: its identity in leader election and its heartbeat Lease in "
    "kube-node-lease (give each kawa sharing one --nats its own).",
)
@click.option(
    "--advertise-address",
    default="127.0.0.1",
    show_default=True,
    help="This node's address for the other nodes: its Node's InternalIP.",
)
@click.option(
    "--node-monitor-grace-period",
    type=click.FloatRange(1),
    default=DEFAULT_GRACE_PERIOD,
    show_default=True,
    help="Seconds a node may go without renewing its heartbeat Lease before the leader marks "
    "it NotReady and fails its Pods, which their owners replace on live nodes.",
)
@click.option(
    "--leader-lease-duration",
    type=click.FloatRange(1),
    default=15.0,
    show_default=True,
    help="Seconds after the controllers' leader was last seen renewing its Lease before "
    "another node takes over (see docs/distributed.md).",
)
@click.option(
    "--leader-renew-deadline",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Seconds a leader keeps leading without renewing its Lease (default: two thirds "
    "of --leader-lease-duration).",
)
@click.option(
    "--leader-retry-period",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Seconds between two tries to take or renew the Lease (default: 2/15 of "
    "--leader-lease-duration).",
)
@click.option(
    "--workers",
    "worker_count",
    default="1",
    show_default=True,
    metavar="N|auto",
    help="kawa processes on this machine sharing the ports (SO_REUSEPORT) and --nats (auto: "
    "one per CPU core); more than one needs --nats (see docs/distributed.md).",
)
@click.option("--worker-index", type=click.IntRange(0), hidden=True)
@click.option(
    "--metrics-port",
    type=click.IntRange(-1, 65535),
    default=None,
    metavar="PORT",
    help=f"Port of the Prometheus endpoint (GET /metrics) on --metrics-host  [default: "
    f"{METRICS_PORT}, skipped with a warning when busy; 0: a free port; -1: no metrics]. "
    "With --workers N, worker I serves on PORT+I (see docs/observability.md).",
)
@click.option(
    "--metrics-host",
    default=METRICS_HOST,
    show_default=True,
    help="Address the metrics endpoint binds (keep it on loopback unless a scraper needs it).",
)
@click.option(
    "--runtime",
    type=click.Choice(runtime_choice.MODES),
    default="auto",
    show_default=True,
    envvar="KAWA_RUNTIME",
    help="How the kubelet runs containers: podman (real images in containers; the images "
    "kawa builds in still run as processes), process (host processes), or auto (podman when "
    "it is installed and works, else processes). See docs/pods.md.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@nats_options
def up(
    data_dir: Path,
    port: int,
    api_port: int,
    https_port: int,
    host: str,
    durability: str,
    max_event_size: int,
    retention: float,
    max_event_log_size: int,
    max_in_flight_bytes: int,
    max_broker_ttl: int,
    max_delivery_lag: float,
    lean_ingress: bool,
    dead_letter_store: bool,
    ephemeral: bool,
    header_timeout: float,
    idle_timeout: float,
    body_timeout: float,
    max_connections: int,
    max_buffered_bytes: int,
    node_name: str,
    advertise_address: str,
    node_monitor_grace_period: float,
    leader_lease_duration: float,
    leader_renew_deadline: float | None,
    leader_retry_period: float | None,
    worker_count: str,
    worker_index: int | None,
    metrics_port: int | None,
    metrics_host: str,
    runtime: str,
    log_level: str,
    nats: NatsOptions | None,
) -> None:
    """Run kawa in the foreground (API, brokers, triggers, delivery)."""
    if max_buffered_bytes < max_event_size:
        raise click.BadParameter(
            f"{max_buffered_bytes} is below --max-event-size ({max_event_size}): no event of "
            "the largest size could be read",
            param_hint="--max-buffered-bytes",
        )
    problems = meta.dns1123_subdomain_errors(node_name)
    if problems:
        raise click.BadParameter(f"{node_name!r}: {'; '.join(problems)}", param_hint="--node-name")
    try:
        timing = Timing(
            lease_duration=leader_lease_duration,
            renew_deadline=leader_renew_deadline or leader_lease_duration * 2 / 3,
            retry_period=leader_retry_period or leader_lease_duration * 2 / 15,
        )
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--leader-*") from None
    count = workers.count_option(worker_count, worker_index, with_nats=nats is not None)
    metrics = metrics_endpoint(metrics_host, metrics_port, worker_index)
    setup_logging(log_level, "" if worker_index is None else f"worker {worker_index}")
    if count > 1:
        workers.run(workers.Plan(count, data_dir, host, port, api_port, advertise_address))
        return
    config = Config(
        data_dir=data_dir,
        host=host,
        port=port,
        api_port=api_port,
        https_port=https_port,
        max_event_size=max_event_size,
        durability=durability,  # type: ignore[arg-type]
        retention=retention,
        max_in_flight_bytes=max_in_flight_bytes,
        max_broker_ttl=max_broker_ttl,
        max_delivery_lag=max_delivery_lag,
        lean_ingress=lean_ingress,
        dead_letter_store=dead_letter_store,
        store_backend="jetstream" if nats else "memory" if ephemeral else "sqlite",
        event_log_backend="jetstream" if nats else "memory" if ephemeral else "sqlite",
        max_event_log_size=max_event_log_size,
        limits=http_server.ServerLimits(
            header_timeout=header_timeout,
            idle_timeout=idle_timeout,
            body_timeout=body_timeout,
            max_connections=max_connections,
            max_buffered_bytes=max_buffered_bytes,
        ),
        nats=nats,
        node_name=node_name,
        leader_election=timing,
        worker=worker_index,
        advertise_address=advertise_address,
        node_monitor_grace_period=node_monitor_grace_period,
        metrics=metrics,
        tracing=tracing_from_environ(os.environ),
        runtime=runtime,
        settle_heap=True,
    )
    try:
        run_async(serve(config, on_ready=_announce if worker_index is None else None))
    except OSError as err:
        raise startup_error(err, host, port) from None
    except runtime_choice.RuntimeUnavailable as err:
        raise click.ClickException(str(err)) from None


def metrics_endpoint(host: str, port: int | None, worker: int | None) -> MetricsEndpoint | None:
    """Where this process serves metrics: ``--metrics-port`` (``None``: not given, the default
    port, which may be busy), worker ``I`` of ``--workers`` on port + I (each worker counts
    its own events; a scraper sums them), none for -1."""
    if port == -1:
        return None
    chosen = METRICS_PORT if port is None else port
    if chosen and worker:
        chosen += worker
        if chosen > 65535:
            raise click.BadParameter(
                f"{chosen - worker} + worker index {worker} is past 65535",
                param_hint="--metrics-port",
            )
    return MetricsEndpoint(host, chosen, optional=port is None)


def _announce(running: Running) -> None:
    click.echo(
        f"kawa {__version__} is up: broker ingress at {running.url}, API for kubectl and the "
        f"kawa CLI at {running.api_url} (export KUBECONFIG={running.kubeconfig}); data in "
        f"{running.data_dir}"
        + (f"; metrics at {running.metrics_url}" if running.metrics_url else ""),
        err=True,
    )
