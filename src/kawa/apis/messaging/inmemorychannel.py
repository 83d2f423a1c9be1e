"""The InMemoryChannel kind (messaging.knative.dev/v1): the default channel implementation.

Its spec is the Channelable duck (:mod:`.channelable`): ``subscribers[]`` (``uid``,
``generation``, ``subscriberUri``, ``replyUri``, ``delivery``; maintained by the subscription
reconciler) and ``delivery``. Each subscriber needs a subscriber or a reply URI. ``Ready``
derives from ``DispatcherReady``, ``Addressable``, ``DeadLetterSinkResolved`` and
``EventPoliciesReady``. Its
reconciler (:mod:`kawa.controllers.messaging.inmemorychannel`) publishes every subscriber in
``status.subscribers`` (:func:`mark_subscribers`), with the moment each was first marked
ready in ``status.annotations["subscribers.kawa.dev/<uid>"]``: the channel data plane
starts a new subscriber's cursor there. Declared as
:data:`kawa.apis.messaging.INMEMORYCHANNEL`; read by the channel data plane.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck, retention
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.messaging import channel, channelable
from kawa.apis.messaging.channelable import SubscriberSpec
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.errors import FieldError

API_VERSION: Final = channel.API_VERSION
KIND: Final = "InMemoryChannel"

DISPATCHER_READY: Final = "DispatcherReady"
INMEMORYCHANNEL_CONDITIONS: Final = ConditionSet(
    (
        DISPATCHER_READY,
        channelable.ADDRESSABLE,
        duck.DEAD_LETTER_SINK_RESOLVED,
        duck.EVENT_POLICIES_READY,
    )
)
SUBSCRIBER_READY_SINCE: Final = "subscribers.kawa.dev/"
"""Prefix of the status annotation ``subscribers.kawa.dev/<uid>``: when the subscriber with
that uid was first marked ready, to the microsecond (ISO 8601, UTC)."""


class InMemoryChannelSpec(Model):
    """The desired state of the InMemoryChannel (the Channelable duck's spec)."""

    subscribers: Annotated[list[SubscriberSpec], doc(channelable.SUBSCRIBERS_DOC)] = []
    delivery: Annotated[
        duck.DeliverySpec | None, doc("How events are delivered: retries and dead letters.")
    ] = None


class InMemoryChannel(KubeObject):
    """An InMemoryChannel forwards each event it receives to every subscriber, from kawa's
    event log."""

    spec: Annotated[
        InMemoryChannelSpec,
        doc(
            "An in-memory channel: forwards each event to every subscriber, without "
            "persistence beyond kawa's event log."
        ),
    ] = InMemoryChannelSpec()

    def check(self, ctx: Context) -> Iterable[FieldError]:
        yield from retention.retention_errors(self.annotations)


class InMemoryChannelStatus(channelable.ChannelableStatus):
    """The state of the InMemoryChannel."""


def parse_inmemorychannel(obj: Mapping[str, Any]) -> InMemoryChannel:
    """An InMemoryChannel dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem."""
    return parse_object(
        InMemoryChannel, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True
    )


# -- status ----------------------------------------------------------------------------------


def mark_subscribers(
    status: dict[str, Any],
    subscribers: list[SubscriberSpec],
    *,
    not_ready: str | None = None,
    clock: Clock,
) -> None:
    """Publish ``status.subscribers`` for ``subscribers`` (the spec's, each ready at its
    generation) and keep their ready-since annotations: set when a subscriber first appears,
    kept while it stays, dropped when it leaves (other annotations are left alone). With
    ``not_ready`` (why the channel cannot deliver yet, such as an unresolved dead-letter sink)
    every subscriber is published not ready with that message and has no annotation: the data
    plane delivers to none of them until they are ready (the events wait in the log)."""
    ready = "True" if not_ready is None else "False"
    published: list[dict[str, Any]] = []
    for s in subscribers:
        entry: dict[str, Any] = {"uid": s.uid, "observedGeneration": s.generation, "ready": ready}
        if not_ready is not None:
            entry["message"] = not_ready
        published.append(entry)
    if published:
        status["subscribers"] = published
    else:
        status.pop("subscribers", None)
    annotations = {
        key: value
        for key, value in (status.get("annotations") or {}).items()
        if not key.startswith(SUBSCRIBER_READY_SINCE)
        or key[len(SUBSCRIBER_READY_SINCE) :] in {s.uid for s in subscribers}
    }
    now = clock().isoformat(timespec="microseconds")
    for subscriber in subscribers:
        key = SUBSCRIBER_READY_SINCE + subscriber.uid
        if not_ready is None:
            annotations.setdefault(key, now)
        else:
            annotations.pop(key, None)
    if annotations:
        status["annotations"] = annotations
    else:
        status.pop("annotations", None)
