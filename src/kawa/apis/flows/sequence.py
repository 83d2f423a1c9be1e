"""The Sequence kind (flows.knative.dev/v1): events through a list of steps in order.

``spec.steps[]`` are Destinations, each with its own optional ``delivery``; the reconciler
creates a channel (from ``spec.channelTemplate``, defaulted to InMemoryChannel) and a
subscription per step, the reply of step i feeding step i+1 and the last one going to
``spec.reply`` (discarded without it). Status: ``channelStatuses``, ``subscriptionStatuses``,
``address``; conditions ``ChannelsReady``, ``SubscriptionsReady``, ``Addressable``. Declared in
:data:`kawa.apis.flows.KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import duck, kn_common, kn_schema, meta
from kawa.apis.flows import common
from kawa.apis.messaging.channel import ChannelTemplate, channel_template_schema
from kawa.errors import FieldError, ValidationError

API_VERSION: Final = common.API_VERSION
KIND: Final = "Sequence"
_SPEC_FIELDS: Final = ("steps", "channelTemplate", "reply")
SEQUENCE_CONDITIONS: Final = common.FLOW_CONDITIONS


@dataclass(frozen=True, slots=True)
class SequenceStep:
    destination: duck.Destination
    delivery: duck.DeliverySpec | None


@dataclass(frozen=True, slots=True)
class Sequence:
    namespace: str
    name: str
    uid: str
    generation: int
    steps: tuple[SequenceStep, ...]
    channel_template: ChannelTemplate
    reply: duck.Destination | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def default_sequence(obj: Mapping[str, Any]) -> meta.Object:
    return common.default_flow(obj, "steps")


def parse_sequence(obj: Mapping[str, Any]) -> Sequence:
    obj = default_sequence(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=True)
    steps: list[SequenceStep] = []
    for i, raw in enumerate(
        kn_common.read_list(spec, "steps", "spec.steps", errors, required=True)
    ):
        path = f"spec.steps[{i}]"
        if not isinstance(raw, Mapping):
            errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(raw)}"))
            continue
        kn_common.unknown_fields(raw, ("ref", "uri", "delivery"), path, errors)
        destination = duck.read_destination(
            {k: raw[k] for k in ("ref", "uri") if k in raw}, path, errors, namespace=who.namespace
        )
        delivery = None
        if raw.get("delivery") is not None:
            delivery = duck.read_delivery(
                raw["delivery"], f"{path}.delivery", errors, namespace=who.namespace
            )
        if destination is not None:
            steps.append(SequenceStep(destination, delivery))
    template, reply = common.read_common(spec, errors, who.namespace)
    kn_common.raise_if_errors(errors, KIND, obj)
    if template is None:
        raise ValidationError.single("spec.channelTemplate", "required field is missing")
    return Sequence(who.namespace, who.name, who.uid, who.generation, tuple(steps), template, reply)


def validate_sequence(obj: Mapping[str, Any]) -> None:
    parse_sequence(obj)


def validate_sequence_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A Sequence may change freely (its channels and subscriptions are reconciled)."""


_STEP: Final = kn_schema.destination("A step: where events go at this point of the sequence.")
_STEP["properties"]["delivery"] = kn_schema.delivery("How events are delivered to this step.")

SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "Sends events through steps, one after the other.",
        {
            "steps": kn_schema.array("The steps, in order.", _STEP),
            "channelTemplate": channel_template_schema(
                "The channel implementation between steps (default InMemoryChannel)."
            ),
            "reply": kn_schema.destination("Where the last step's replies go."),
        },
        required=("steps",),
    ),
    kn_schema.status(
        "The state of the Sequence.",
        {
            "address": kn_schema.address(),
            "channelStatuses": kn_schema.array("One per step.", common.channel_status()),
            "subscriptionStatuses": kn_schema.array("One per step.", common.subscription_status()),
        },
    ),
)
