"""What the broker keeps in the event log for one event (the layout is
:mod:`kawa.dispatch.envelope`'s, re-exported here): the event plus forwarded headers.

:func:`on_ingress` is what an event becomes on its way into a broker (the TTL rule, then
:func:`wrap`); called by :meth:`kawa.broker.dataplane.BrokerDataPlane.publish` for the
ingress and for replies. The trigger consumers :func:`unwrap` what they read.
"""

from __future__ import annotations

from collections.abc import Mapping

from kawa.broker import ttl
from kawa.cloudevents.event import CloudEvent
from kawa.dispatch.envelope import unwrap, wrap

__all__ = ["on_ingress", "unwrap", "wrap"]


def on_ingress(
    event: CloudEvent,
    headers: Mapping[str, str] | None = None,
    max_ttl: int = ttl.DEFAULT_MAX_TTL,
) -> bytes:
    """The record of an event entering a broker: TTL defaulted or decremented and capped at
    ``max_ttl`` (:func:`kawa.broker.ttl.on_ingress`; a ValidationError when exhausted), then
    wrapped with the forwarded ``headers``."""
    return wrap(ttl.on_ingress(event, max_ttl), dict(headers) if headers else None)
