"""The channel duck shapes (Knative's ``duck/v1`` Subscribable and Channelable), declared.

Every channel implementation has the same spec and status parts, whatever its kind:

* :class:`SubscriberSpec` -- one entry of ``spec.subscribers`` (the Subscribable duck): the
  Subscription's ``uid`` and ``generation``, where events go (``subscriberUri``) and where
  replies go (``replyUri``), at least one of them and both absolute URLs, and its
  ``delivery``; the subscription reconciler maintains the list;
* :class:`SubscriberStatus` and :class:`ChannelableStatus` -- the status every channel
  publishes: its address, the resolved dead-letter sink and how each subscriber is doing;
* :func:`set_address` -- the ``Addressable`` condition of a channel (or a flow).

Used by :mod:`.channel` and :mod:`.inmemorychannel` (flows reach what they need through
:mod:`.channel`, the one messaging module they may import).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Final

from pydantic import AfterValidator

from kawa.apis import duck
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.model.base import Context, Model, doc
from kawa.errors import FieldError

ADDRESSABLE: Final = duck.ADDRESSABLE


def _absolute(uri: str) -> str:
    if not duck.is_absolute_url(uri):
        raise ValueError(f"expected an absolute URL, got {uri!r}")
    return uri


AbsoluteURL = Annotated[str, AfterValidator(_absolute)]
"""A URL with a scheme and a host (what a channel dispatches to)."""


class SubscriberSpec(Model):
    """One subscriber of the channel: where events go and where replies go."""

    uid: Annotated[str, doc("UID of the Subscription.")] = ""
    generation: Annotated[int, doc("Generation of the Subscription.")] = 0
    subscriber_uri: Annotated[AbsoluteURL | None, doc("Where events are sent.")] = None
    subscriber_audience: Annotated[
        str | None, doc("The subscriber's OIDC audience (authentication-oidc).")
    ] = None
    subscriber_ca_certs: Annotated[
        str | None,
        doc(
            "PEM certificates the subscriber's https certificate verifies against.",
            alias="subscriberCACerts",
        ),
    ] = None
    reply_uri: Annotated[AbsoluteURL | None, doc("Where replies are sent.")] = None
    reply_audience: Annotated[
        str | None, doc("The reply destination's OIDC audience (authentication-oidc).")
    ] = None
    reply_ca_certs: Annotated[
        str | None,
        doc(
            "PEM certificates the reply destination's https certificate verifies against.",
            alias="replyCACerts",
        ),
    ] = None
    delivery: Annotated[
        duck.DeliverySpec | None, doc("How events are delivered: retries and dead letters.")
    ] = None
    auth: Annotated[
        duck.AuthStatus | None, doc("The identity the deliveries present (authentication-oidc).")
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.subscriber_uri is None and self.reply_uri is None:
            yield FieldError("", "expected at least one of subscriberUri or replyUri, got neither")


SUBSCRIBERS_DOC: Final = "The subscribers of the channel, maintained from its Subscriptions."


class SubscriberStatus(Model):
    """A subscriber's state."""

    uid: Annotated[str | None, doc("UID of the Subscription.")] = None
    observed_generation: Annotated[int | None, doc("Its generation acted on.")] = None
    ready: Annotated[str | None, doc("True, False or Unknown.")] = None
    message: Annotated[str | None, doc("Why it is not ready.")] = None


class ChannelableStatus(duck.Status):
    """The state of a channel: its address, its dead-letter sink, its subscribers."""

    address: Annotated[duck.Addressable | None, doc("Where the channel receives events.")] = None
    addresses: Annotated[
        list[duck.Addressable] | None,
        doc("Every address (http and https, by transport-encryption)."),
    ] = None
    dead_letter_sink_uri: Annotated[str | None, doc("The resolved dead-letter sink.")] = None
    dead_letter_sink_audience: Annotated[
        str | None, doc("The OIDC audience of the dead-letter sink (authentication-oidc).")
    ] = None
    dead_letter_sink_ca_certs: Annotated[
        str | None,
        doc(
            "The PEM certificates the dead-letter sink's https certificate verifies against.",
            alias="deadLetterSinkCACerts",
        ),
    ] = None
    subscribers: Annotated[
        list[SubscriberStatus] | None, doc("The subscribers as the channel sees them.")
    ] = None
    policies: Annotated[
        list[duck.AppliedEventPolicyRef] | None,
        doc("The Ready EventPolicies that apply to the channel (authentication-oidc)."),
    ] = None


def set_address(
    conditions: ConditionSet,
    status: dict[str, Any],
    url: str | None,
    *,
    clock: Clock,
    audience: str | None = None,
    addresses: list[dict[str, Any]] | None = None,
) -> None:
    """Publish ``status.address.url`` (and the OIDC ``audience`` when given; ``addresses``
    with transport encryption) and mark ``Addressable`` (False without a URL)."""
    duck.set_address(
        conditions,
        status,
        url,
        what="channel",
        clock=clock,
        audience=audience,
        addresses=addresses,
    )
