"""The Channel kind (messaging.knative.dev/v1) and the channel template shared with flows.

A Channel names, in ``spec.channelTemplate`` (:class:`ChannelTemplate`: ``{apiVersion, kind,
spec}``), the implementation that backs it; the reconciler creates that backing channel,
records it in ``status.channel`` and copies its address to ``status.address.url``. A Channel
created without a template gets the default of ConfigMap
``knative-eventing/default-ch-webhook`` as it is stored (:mod:`.channel_defaults`, applied by
kawa's mutating admission), so the parsed default here (an InMemoryChannel) only fills in
for objects that bypassed it. ``channelTemplate`` is immutable, and ``spec.subscribers``
belongs to the controllers (the Subscriptions), so users may not set it on a Channel. The
channel duck shapes (subscribers, status) are in :mod:`.channelable`. :class:`ChannelTemplate` and
:data:`DEFAULT_CHANNEL_TEMPLATE` are also used by Sequence and Parallel
(:mod:`kawa.apis.flows`). Declared as :data:`kawa.apis.messaging.CHANNEL`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck, retention
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.messaging import channelable
from kawa.apis.messaging.channelable import SubscriberSpec
from kawa.apis.model.base import Context, Immutable, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.types import FreeForm, Text
from kawa.errors import FieldError

GROUP: Final = "messaging.knative.dev"
API_VERSION: Final = "messaging.knative.dev/v1"
KIND: Final = "Channel"

BACKING_CHANNEL_READY: Final = "BackingChannelReady"
ADDRESSABLE: Final = channelable.ADDRESSABLE
DEAD_LETTER_SINK_RESOLVED: Final = duck.DEAD_LETTER_SINK_RESOLVED
EVENT_POLICIES_READY: Final = duck.EVENT_POLICIES_READY
CHANNEL_CONDITIONS: Final = ConditionSet(
    (BACKING_CHANNEL_READY, ADDRESSABLE, DEAD_LETTER_SINK_RESOLVED, EVENT_POLICIES_READY)
)


class ChannelTemplate(Model):
    """Which channel implementation to create, and the spec given to it."""

    api_version: Annotated[Text, doc("API version of the channel implementation.")]
    kind: Annotated[Text, doc("Kind of the channel implementation (InMemoryChannel...).")]
    spec: Annotated[FreeForm | None, doc("The spec given to each created channel.")] = None

    def to_dict(self) -> dict[str, Any]:
        """The template as it is written in an object (``spec`` only when not empty)."""
        out: dict[str, Any] = {"apiVersion": self.api_version, "kind": self.kind}
        if self.spec:
            out["spec"] = dict(self.spec)
        return out


DEFAULT_CHANNEL_TEMPLATE: Final = ChannelTemplate(api_version=API_VERSION, kind="InMemoryChannel")
"""Knative's ``default-ch-webhook`` default: an InMemoryChannel."""


class ChannelSpec(Model):
    """The desired state of the Channel: its implementation, and the Channelable duck's
    spec."""

    channel_template: Annotated[
        ChannelTemplate,
        doc(
            "The channel implementation backing this Channel (default: ConfigMap "
            "knative-eventing/default-ch-webhook, else InMemoryChannel)."
        ),
        Immutable(),
    ] = DEFAULT_CHANNEL_TEMPLATE
    subscribers: Annotated[
        list[SubscriberSpec] | None,
        doc(f"{channelable.SUBSCRIBERS_DOC} Not set by users on a Channel."),
    ] = None
    delivery: Annotated[
        duck.DeliverySpec | None, doc("How events are delivered: retries and dead letters.")
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.subscribers:
            yield FieldError(
                "subscribers", "must not be set on a Channel: create Subscriptions to subscribe"
            )


class Channel(KubeObject):
    """A Channel forwards each event it receives to every subscriber; a channel
    implementation (an InMemoryChannel by default) does the work."""

    spec: Annotated[
        ChannelSpec,
        doc("A channel: an addressable that forwards each event to every subscriber."),
    ] = ChannelSpec()

    def check(self, ctx: Context) -> Iterable[FieldError]:
        # carried to the backing channel (kawa.controllers.messaging.channel), checked here
        yield from retention.retention_errors(self.annotations)


class ChannelStatus(channelable.ChannelableStatus):
    """The state of the Channel."""

    channel: Annotated[duck.KReference | None, doc("The backing channel.")] = None


def parse_channel(obj: Mapping[str, Any]) -> Channel:
    """A Channel dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` (subject ``"Channel <namespace>/<name>"``)."""
    return parse_object(Channel, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


# -- status ----------------------------------------------------------------------------------


def mark_backing_channel(
    status: dict[str, Any],
    ref: duck.KReference,
    ready: bool | None,
    address: str | None,
    *,
    clock: Clock,
    audience: str | None = None,
    addresses: list[dict[str, Any]] | None = None,
) -> None:
    """Record the backing channel (``status.channel``), its readiness and its address (its
    OIDC ``audience`` and, with transport encryption, its ``addresses`` too)."""
    status["channel"] = ref.to_dict()
    if ready:
        CHANNEL_CONDITIONS.mark_true(status, BACKING_CHANNEL_READY, clock=clock)
    elif ready is None:
        CHANNEL_CONDITIONS.mark_unknown(
            status,
            BACKING_CHANNEL_READY,
            "BackingChannelNotReady",
            f"The backing {ref.kind} {ref.name!r} is not ready yet.",
            clock=clock,
        )
    else:
        CHANNEL_CONDITIONS.mark_false(
            status,
            BACKING_CHANNEL_READY,
            "BackingChannelNotReady",
            f"The backing {ref.kind} {ref.name!r} is not ready.",
            clock=clock,
        )
    channelable.set_address(
        CHANNEL_CONDITIONS, status, address, clock=clock, audience=audience, addresses=addresses
    )
