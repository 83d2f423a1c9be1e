"""Broker ingress: CloudEvents over HTTP in, 202 once durably in the broker's event log.

The contract and the handler are :mod:`kawa.dispatch.ingress`'s (shared with channels); this
module says where brokers are. The route is ``/brokers/{namespace}/{name}``; the broker
controller publishes that URL as the Broker's ``status.address.url``. Knative's own URL form,
``http://broker-ingress.knative-eventing.svc.cluster.local/<namespace>/<name>``, is served too,
by ``Host`` (:func:`broker_host_form`). With ``kawa up --max-delivery-lag`` a broker whose
events wait too long for delivery answers 429 with ``Retry-After`` before it reads the request
(:mod:`kawa.broker.backpressure`). The handlers call
:meth:`~kawa.dispatch.ingress.Publisher.publish`, which the trigger consumers also use to put
replies back into a broker.
"""

from __future__ import annotations

from typing import Final

from kawa.delivery import tracing
from kawa.dispatch import stats
from kawa.dispatch.ingress import DEFAULT_MAX_EVENT_SIZE, Authorize, IngressHandler, Publisher, full

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "FULL",
    "KNATIVE_HOSTS",
    "ROUTE",
    "Publisher",
    "broker_host_form",
    "broker_ingress",
]

ROUTE: Final = "/brokers/{namespace}/{name}"
KNATIVE_HOSTS: Final = frozenset(
    {
        "broker-ingress.knative-eventing",
        "broker-ingress.knative-eventing.svc",
        "broker-ingress.knative-eventing.svc.cluster.local",
    }
)
"""Host names of Knative's broker ingress (its URLs are ``http://<host>/<namespace>/<broker>``)."""
FULL: Final = full("broker")
"""The 507 answer."""


def broker_host_form(host: str, path: str) -> tuple[str, str] | str | None:
    """``/<namespace>/<broker>`` on Knative's broker-ingress host (any other path there is a
    404 that says the form); ``None`` for other hosts."""
    if host not in KNATIVE_HOSTS:
        return None
    parts = path.strip("/").split("/")
    if len(parts) != 2 or not all(parts):
        return f"the broker ingress takes events at /<namespace>/<broker>, not {path[:100]}\n"
    return parts[0], parts[1]


def broker_ingress(
    publisher: Publisher,
    *,
    max_event_size: int,
    reporter: stats.Reporter = stats.NO_REPORTER,
    tracer: tracing.Tracer = tracing.NO_TRACER,
    authorize: Authorize | None = None,
) -> IngressHandler:
    """The broker ingress's handlers over ``publisher`` (the broker data plane)."""
    return IngressHandler(
        publisher,
        max_event_size=max_event_size,
        reporter=reporter,
        tracer=tracer,
        authorize=authorize,
        what="broker",
        route=ROUTE,
        host_form=broker_host_form,
    )
