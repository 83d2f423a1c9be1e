"""The spans of one consumer (tracing on): filter evaluations, deliveries, replies, dead
letters (:mod:`kawa.delivery.tracing` has the names and attribute keys).

A trigger's filter evaluation and every delivery are children of the context stored with the
event; a delivery's attempts (made by :mod:`kawa.delivery.sender`), its reply and its dead
letter are children of the delivery span. A reply is handed on with the context of its reply
span, so what the reply causes (the deliveries of a reply that re-entered the broker, the
next step of a Sequence) continues the same trace. Used by :mod:`kawa.dispatch.consumer`
only when the tracer is enabled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

from kawa.cloudevents.event import CloudEvent
from kawa.delivery import tracing
from kawa.delivery.sender import DeliveryResult


@contextlib.contextmanager
def ended(span: tracing.Span) -> Iterator[tracing.Span]:
    """``span``, failed by an exception that leaves the block, ended when it is left."""
    try:
        yield span
    except BaseException as err:
        span.fail(repr(err))
        raise
    finally:
        span.end()


def note(span: tracing.Span | None, outcome: str) -> None:
    """A delivery's ``kawa.delivery.outcome``: ``delivered``, ``dead-lettered``, ``dropped``
    or ``kept`` (the dead-letter sink failed too: the event is tried again)."""
    if span is not None:
        span.set(tracing.OUTCOME, outcome)


def note_result(span: tracing.Span, result: DeliveryResult) -> None:
    """The attempts and last status of a delivery (or dead letter); failed unless ok."""
    span.set(tracing.ATTEMPTS, result.attempts)
    if result.status is not None:
        span.set(tracing.STATUS, result.status)
    if not result.ok:
        span.fail(result.error or f"HTTP {result.status}")


def event_attributes(event: CloudEvent) -> dict[str, tracing.Value]:
    return {tracing.EVENT_ID: event.id, tracing.EVENT_TYPE: event.type}


class ConsumerSpans:
    """Starts the spans of one trigger's or subscription's consumer."""

    __slots__ = ("_delivery_name", "_name", "_target", "_tracer")

    def __init__(
        self,
        tracer: tracing.Tracer,
        kind: str,
        namespace: str,
        parent: str,
        name: str,
    ) -> None:
        self._tracer = tracer
        self._delivery_name = tracing.delivery_name(kind)
        self._name = name
        of, what = ("broker", "trigger") if kind == "trigger" else ("channel", "subscription")
        self._target: dict[str, tracing.Value] = {
            tracing.NAMESPACE: namespace,
            f"kawa.{of}": parent,
            f"kawa.{what}": name,
        }

    def filter(
        self, event: CloudEvent, headers: Mapping[str, str], test: Callable[[CloudEvent], bool]
    ) -> bool:
        """``test(event)`` in a ``trigger filter`` span (its attributes only the trigger and
        the answer: the event's are its parent's, and each attribute costs every event)."""
        attributes = {"kawa.trigger": self._name}
        with ended(self._tracer.start(tracing.FILTER, headers, "internal", attributes)) as span:
            passed = test(event)
            span.set(tracing.MATCHED, passed)
            return passed

    def delivery(self, event: CloudEvent, headers: Mapping[str, str]) -> tracing.Span:
        """The span of one delivery of ``event`` (its stored ``headers`` hold the parent)."""
        attributes = {**self._target, **event_attributes(event)}
        return self._tracer.start(self._delivery_name, headers, "consumer", attributes)

    @staticmethod
    def reply(
        delivery: tracing.Span, reply: CloudEvent, headers: Mapping[str, str]
    ) -> tuple[tracing.Span, dict[str, str]]:
        """The reply span of ``delivery`` and the headers to hand the reply on with: the
        event's, their trace context the reply span's."""
        span = delivery.child(tracing.REPLY, "producer", event_attributes(reply))
        carried = dict(headers)
        span.inject(carried)
        return span, carried

    @staticmethod
    def dead_letter(delivery: tracing.Span, result: DeliveryResult) -> tracing.Span:
        """The span of sending the event to the dead-letter sink after ``result``."""
        return delivery.child(
            tracing.DEAD_LETTER, "producer", {tracing.ERROR_CODE: result.error_code}
        )
