"""Tracing settings from OpenTelemetry's standard environment variables, and the tracer
``kawa up`` runs with (docs/observability.md, "Tracing"; ADR "tracing").

Off by default: tracing is on when an OTLP endpoint is configured
(``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, or ``OTEL_EXPORTER_OTLP_ENDPOINT`` with
``/v1/traces`` appended) or ``OTEL_TRACES_EXPORTER=otlp`` asks for the default endpoint
(``http://localhost:4318/v1/traces``), unless ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none``. The service name is ``OTEL_SERVICE_NAME`` (else a
``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``, else ``kawa``); sampling is
``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG`` (default ``parentbased_always_on``:
a request whose ``traceparent`` says not sampled is not recorded, but its context still
goes on); ``OTEL_BSP_SCHEDULE_DELAY`` is the export interval. The exporter reads its own
variables (``OTEL_EXPORTER_OTLP_*HEADERS``, ``*TIMEOUT``, ``*COMPRESSION``,
``*CERTIFICATE``) and ``OTEL_RESOURCE_ATTRIBUTES`` is merged into the resource.

This module does not import OpenTelemetry: :mod:`kawa.observability.otel` (the SDK, about
0.2 s to import) is loaded only when tracing is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Final

from kawa.delivery import tracing

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT: Final = "http://localhost:4318"
TRACES_PATH: Final = "v1/traces"
DEFAULT_SERVICE_NAME: Final = "kawa"
DEFAULT_SAMPLER: Final = "parentbased_always_on"
SAMPLERS: Final = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)
"""The samplers of ``OTEL_TRACES_SAMPLER`` kawa knows (the SDK's built-in ones)."""
DEFAULT_EXPORT_DELAY: Final = 5.0
"""Seconds between exports (``OTEL_BSP_SCHEDULE_DELAY``, given in ms, default 5000)."""
SHUTDOWN_WAIT: Final = 5.0
"""Seconds a stopping kawa waits for the last spans to be exported (a collector that is down
does not hold the stop longer)."""


@dataclass(frozen=True, slots=True)
class TracingConfig:
    """Where and how spans are exported (:func:`from_environ`)."""

    endpoint: str
    """The OTLP/HTTP traces URL (``.../v1/traces``)."""
    service_name: str = DEFAULT_SERVICE_NAME
    sampler: str = DEFAULT_SAMPLER
    sampler_ratio: float = 1.0
    """``OTEL_TRACES_SAMPLER_ARG`` of the ``traceidratio`` samplers."""
    export_delay: float = DEFAULT_EXPORT_DELAY


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _service_name(env: Mapping[str, str]) -> str:
    name = env.get("OTEL_SERVICE_NAME", "").strip()
    if name:
        return name
    for pair in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, _, value = pair.partition("=")
        if key.strip() == "service.name" and value.strip():
            return value.strip()
    return DEFAULT_SERVICE_NAME


def _endpoint(env: Mapping[str, str]) -> str | None:
    """The traces URL the variables configure (``None``: none, tracing is off)."""
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",")}
    exporters.discard("")
    if "none" in exporters:
        return None
    if exporters - {"otlp"}:
        log.warning(
            "OTEL_TRACES_EXPORTER=%s: kawa exports traces with OTLP only (otlp or none)",
            env["OTEL_TRACES_EXPORTER"],
        )
    traces = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not base and "otlp" not in exporters:
        return None
    base = base or DEFAULT_ENDPOINT
    return base + TRACES_PATH if base.endswith("/") else f"{base}/{TRACES_PATH}"


def _sampler(env: Mapping[str, str]) -> tuple[str, float]:
    name = env.get("OTEL_TRACES_SAMPLER", "").strip().lower() or DEFAULT_SAMPLER
    if name not in SAMPLERS:
        log.warning(
            "OTEL_TRACES_SAMPLER=%s is not one of %s: using %s",
            name,
            ", ".join(sorted(SAMPLERS)),
            DEFAULT_SAMPLER,
        )
        name = DEFAULT_SAMPLER
    ratio = 1.0
    arg = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    if arg and name.endswith("traceidratio"):
        try:
            ratio = float(arg)
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(arg)
        except ValueError:
            log.warning("OTEL_TRACES_SAMPLER_ARG=%s is not a ratio in [0, 1]: using 1.0", arg)
            ratio = 1.0
    return name, ratio


def _export_delay(env: Mapping[str, str]) -> float:
    value = env.get("OTEL_BSP_SCHEDULE_DELAY", "").strip()
    if not value:
        return DEFAULT_EXPORT_DELAY
    try:
        delay = float(value) / 1000.0
        if delay <= 0:
            raise ValueError(value)
    except ValueError:
        log.warning("OTEL_BSP_SCHEDULE_DELAY=%s is not a positive number of ms", value)
        return DEFAULT_EXPORT_DELAY
    return delay


def from_environ(env: Mapping[str, str]) -> TracingConfig | None:
    """The tracing the OpenTelemetry variables in ``env`` configure; ``None``: tracing is
    off (see the module docstring)."""
    if _true(env.get("OTEL_SDK_DISABLED")):
        return None
    endpoint = _endpoint(env)
    if endpoint is None:
        return None
    for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = env.get(variable, "").strip()
        if protocol:
            if protocol != "http/protobuf":
                log.warning("%s=%s: kawa exports OTLP over http/protobuf", variable, protocol)
            break
    sampler, ratio = _sampler(env)
    return TracingConfig(
        endpoint=endpoint,
        service_name=_service_name(env),
        sampler=sampler,
        sampler_ratio=ratio,
        export_delay=_export_delay(env),
    )


@contextlib.asynccontextmanager
async def tracer(
    config: TracingConfig | None, *, instance: str = ""
) -> AsyncIterator[tracing.Tracer]:
    """The data plane's tracer: :data:`~kawa.delivery.tracing.NO_TRACER` without a
    ``config``, else spans exported to ``config.endpoint`` as the service
    ``config.service_name`` (``instance``: ``service.instance.id``). On exit the spans not
    exported yet are, waiting at most :data:`SHUTDOWN_WAIT` seconds."""
    if config is None:
        yield tracing.NO_TRACER
        return
    from kawa.observability import otel  # the SDK only when tracing is on

    provider = otel.provider(
        endpoint=config.endpoint,
        service_name=config.service_name,
        sampler=config.sampler,
        sampler_ratio=config.sampler_ratio,
        export_delay=config.export_delay,
        instance=instance,
    )
    log.info("tracing: spans go to %s as %s", config.endpoint, config.service_name)
    try:
        yield otel.OtelTracer(provider, follows_parent=config.sampler.startswith("parentbased_"))
    finally:
        done = asyncio.get_running_loop().create_future()

        def shut_down() -> None:
            try:
                provider.shutdown()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                    done.get_loop().call_soon_threadsafe(_settle, done)

        # a thread of its own (daemon): a collector that does not answer holds neither the
        # event loop nor, past SHUTDOWN_WAIT, the stop
        threading.Thread(target=shut_down, name="kawa-tracing-shutdown", daemon=True).start()
        try:
            await asyncio.wait_for(asyncio.shield(done), SHUTDOWN_WAIT)
        except TimeoutError:
            log.warning("tracing: spans not exported within %.0f s were dropped", SHUTDOWN_WAIT)


def _settle(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
