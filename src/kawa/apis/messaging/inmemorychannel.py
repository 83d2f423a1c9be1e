"""The InMemoryChannel kind (messaging.knative.dev/v1): the default channel implementation.

Its spec is the Subscribable duck: ``subscribers[]`` (``uid``, ``generation``,
``subscriberUri``, ``replyUri``, ``delivery``; maintained by the subscription reconciler) and
``delivery``. Each subscriber needs a subscriber or a reply URI. ``Ready`` derives from
``DispatcherReady``, ``Addressable`` and ``DeadLetterSinkResolved``. Declared in
:data:`kawa.apis.messaging.KINDS`; read by the channel data plane.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import duck, kn_common, kn_schema, meta
from kawa.apis.conditions import ConditionSet
from kawa.apis.messaging import channel
from kawa.errors import FieldError

API_VERSION: Final = channel.API_VERSION
KIND: Final = "InMemoryChannel"
_SPEC_FIELDS: Final = ("subscribers", "delivery")
_SUBSCRIBER_FIELDS: Final = ("uid", "generation", "subscriberUri", "replyUri", "delivery")

DISPATCHER_READY: Final = "DispatcherReady"
INMEMORYCHANNEL_CONDITIONS: Final = ConditionSet(
    (DISPATCHER_READY, channel.ADDRESSABLE, duck.DEAD_LETTER_SINK_RESOLVED)
)


@dataclass(frozen=True, slots=True)
class SubscriberSpec:
    """One subscriber of a channel: where events go and where replies go."""

    uid: str
    generation: int
    subscriber_uri: str | None
    reply_uri: str | None
    delivery: duck.DeliverySpec | None


@dataclass(frozen=True, slots=True)
class InMemoryChannel:
    namespace: str
    name: str
    uid: str
    generation: int
    subscribers: tuple[SubscriberSpec, ...]
    delivery: duck.DeliverySpec | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def default_inmemorychannel(obj: Mapping[str, Any]) -> meta.Object:
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if isinstance(spec, dict):
        duck.default_delivery(spec.get("delivery"), meta.namespace_of(out))
    return out


def read_subscribers(
    spec: Mapping[str, Any], path: str, errors: list[FieldError], *, namespace: str
) -> tuple[SubscriberSpec, ...]:
    """The Subscribable duck's ``subscribers[]``."""
    out: list[SubscriberSpec] = []
    for i, raw in enumerate(kn_common.read_list(spec, "subscribers", path, errors)):
        item = f"{path}[{i}]"
        if not isinstance(raw, Mapping):
            errors.append(FieldError(item, f"expected a mapping, got {meta.type_name(raw)}"))
            continue
        before = len(errors)
        kn_common.unknown_fields(raw, _SUBSCRIBER_FIELDS, item, errors)
        uid = meta.read_str(raw, "uid", f"{item}.uid", errors) or ""
        generation = kn_common.read_int(raw, "generation", f"{item}.generation", errors) or 0
        subscriber = meta.read_str(raw, "subscriberUri", f"{item}.subscriberUri", errors)
        reply = meta.read_str(raw, "replyUri", f"{item}.replyUri", errors)
        for key, uri in (("subscriberUri", subscriber), ("replyUri", reply)):
            if uri is not None and not duck.is_absolute_url(uri):
                errors.append(FieldError(f"{item}.{key}", f"expected an absolute URL, got {uri!r}"))
        if subscriber is None and reply is None:
            errors.append(
                FieldError(item, "expected at least one of subscriberUri or replyUri, got neither")
            )
        delivery = None
        if raw.get("delivery") is not None:
            delivery = duck.read_delivery(
                raw["delivery"], f"{item}.delivery", errors, namespace=namespace
            )
        if len(errors) == before:
            out.append(SubscriberSpec(uid, generation, subscriber, reply, delivery))
    return tuple(out)


def parse_inmemorychannel(obj: Mapping[str, Any]) -> InMemoryChannel:
    obj = default_inmemorychannel(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=False)
    subscribers = read_subscribers(spec, "spec.subscribers", errors, namespace=who.namespace)
    delivery = None
    if spec.get("delivery") is not None:
        delivery = duck.read_delivery(
            spec["delivery"], "spec.delivery", errors, namespace=who.namespace
        )
    kn_common.raise_if_errors(errors, KIND, obj)
    return InMemoryChannel(who.namespace, who.name, who.uid, who.generation, subscribers, delivery)


def validate_inmemorychannel(obj: Mapping[str, Any]) -> None:
    parse_inmemorychannel(obj)


def validate_inmemorychannel_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Nothing of an InMemoryChannel's spec is immutable."""


SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "An in-memory channel: forwards each event to every subscriber, without persistence "
        "beyond kawa's event log.",
        {"subscribers": channel.subscribers_schema(), "delivery": kn_schema.delivery()},
    ),
    channel.channelable_status("The state of the InMemoryChannel.", {}),
)
