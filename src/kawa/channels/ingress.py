"""Channel ingress: CloudEvents over HTTP in, 202 once durably in the channel's event log.

The contract and the handler are :mod:`kawa.dispatch.ingress`'s (shared with brokers): POST
only (405), unknown channel 404, not a CloudEvent 400, too large 413, 202 once stored. An
event is stored as it came, structured or binary, CloudEvents 1.0 or 0.3, and its subscribers
get it that way. The route is ``/channels/{namespace}/{name}``, which the InMemoryChannel
reconciler publishes as ``status.address.url``; Knative's URL forms are served by ``Host``
(:func:`channel_host_form`): ``http://<name>-kn-channel.<namespace>.svc.cluster.local/`` (the
address Knative gives an InMemoryChannel; only the path ``/``, as Knative's receiver) and the
dispatcher's ``http://imc-dispatcher.knative-eventing.svc.cluster.local/<namespace>/<name>``.
"""

from __future__ import annotations

from typing import Final

from kawa.delivery import tracing
from kawa.dispatch import stats
from kawa.dispatch.ingress import Authorize, IngressHandler, Publisher

ROUTE: Final = "/channels/{namespace}/{name}"
CHANNEL_SUFFIX: Final = "-kn-channel"
_CLUSTER_SUFFIXES: Final = ("", ".svc", ".svc.cluster.local")
DISPATCHER_HOSTS: Final = frozenset(
    f"imc-dispatcher.knative-eventing{suffix}" for suffix in _CLUSTER_SUFFIXES
)
"""Host names of Knative's InMemoryChannel dispatcher (URLs ``/<namespace>/<channel>``)."""


def channel_host_form(host: str, path: str) -> tuple[str, str] | str | None:
    """``<name>-kn-channel.<namespace>[.svc[.cluster.local]]`` (path ``/``) or the
    dispatcher's host with ``/<namespace>/<name>``; ``None`` for other hosts."""
    if host in DISPATCHER_HOSTS:
        parts = path.strip("/").split("/")
        if len(parts) != 2 or not all(parts):
            return (
                f"the channel dispatcher takes events at /<namespace>/<channel>, not {path[:100]}\n"
            )
        return parts[0], parts[1]
    for suffix in _CLUSTER_SUFFIXES:
        if suffix and not host.endswith(suffix):
            continue
        service, _, namespace = host[: len(host) - len(suffix)].rpartition(".")
        if service.endswith(CHANNEL_SUFFIX) and namespace and "." not in service:
            name = service[: -len(CHANNEL_SUFFIX)]
            if name and path in ("", "/"):
                return namespace, name
            if name:
                return f"the channel {namespace}/{name} takes events at /, not {path[:100]}\n"
    return None


def channel_ingress(
    publisher: Publisher,
    *,
    max_event_size: int,
    reporter: stats.Reporter = stats.NO_REPORTER,
    tracer: tracing.Tracer = tracing.NO_TRACER,
    authorize: Authorize | None = None,
) -> IngressHandler:
    """The channel ingress's handlers over ``publisher`` (the channel data plane)."""
    return IngressHandler(
        publisher,
        max_event_size=max_event_size,
        reporter=reporter,
        tracer=tracer,
        authorize=authorize,
        what="channel",
        route=ROUTE,
        host_form=channel_host_form,
        keep_mode=True,
    )
