"""The Parallel kind (flows.knative.dev/v1): every event to several branches at once.

``spec.branches[]``: ``subscriber`` (required), optional ``filter`` (a Destination whose
non-empty reply lets the event through), ``reply`` (defaults to ``spec.reply``) and
``delivery``; ``spec.channelTemplate`` (defaulted to InMemoryChannel) backs the ingress and the
branch channels. Status: ``ingressChannelStatus``, ``branchStatuses``, ``address``; conditions
``ChannelsReady``, ``SubscriptionsReady``, ``Addressable``. Declared in
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
KIND: Final = "Parallel"
_SPEC_FIELDS: Final = ("branches", "channelTemplate", "reply")
_BRANCH_FIELDS: Final = ("filter", "subscriber", "reply", "delivery")
PARALLEL_CONDITIONS: Final = common.FLOW_CONDITIONS


@dataclass(frozen=True, slots=True)
class ParallelBranch:
    filter: duck.Destination | None
    subscriber: duck.Destination
    reply: duck.Destination | None
    delivery: duck.DeliverySpec | None


@dataclass(frozen=True, slots=True)
class Parallel:
    namespace: str
    name: str
    uid: str
    generation: int
    branches: tuple[ParallelBranch, ...]
    channel_template: ChannelTemplate
    reply: duck.Destination | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def default_parallel(obj: Mapping[str, Any]) -> meta.Object:
    return common.default_flow(obj, "branches")


def parse_parallel(obj: Mapping[str, Any]) -> Parallel:
    obj = default_parallel(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=True)
    branches: list[ParallelBranch] = []
    raw_branches = kn_common.read_list(spec, "branches", "spec.branches", errors, required=True)
    for i, raw in enumerate(raw_branches):
        path = f"spec.branches[{i}]"
        if not isinstance(raw, Mapping):
            errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(raw)}"))
            continue
        before = len(errors)
        kn_common.unknown_fields(raw, _BRANCH_FIELDS, path, errors)
        found: dict[str, duck.Destination | None] = {}
        for key in ("filter", "subscriber", "reply"):
            found[key] = None
            if raw.get(key) is not None:
                found[key] = duck.read_destination(
                    raw[key], f"{path}.{key}", errors, namespace=who.namespace
                )
            elif key == "subscriber":
                errors.append(FieldError(f"{path}.subscriber", "required field is missing"))
        delivery = None
        if raw.get("delivery") is not None:
            delivery = duck.read_delivery(
                raw["delivery"], f"{path}.delivery", errors, namespace=who.namespace
            )
        subscriber = found["subscriber"]
        if len(errors) == before and subscriber is not None:
            branches.append(ParallelBranch(found["filter"], subscriber, found["reply"], delivery))
    template, reply = common.read_common(spec, errors, who.namespace)
    kn_common.raise_if_errors(errors, KIND, obj)
    if template is None:
        raise ValidationError.single("spec.channelTemplate", "required field is missing")
    return Parallel(
        who.namespace, who.name, who.uid, who.generation, tuple(branches), template, reply
    )


def validate_parallel(obj: Mapping[str, Any]) -> None:
    parse_parallel(obj)


def validate_parallel_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A Parallel may change freely (its channels and subscriptions are reconciled)."""


SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "Sends every event to several branches, each with an optional filter.",
        {
            "branches": kn_schema.array(
                "The branches.",
                kn_schema.obj(
                    "One branch.",
                    {
                        "filter": kn_schema.destination(
                            "Decides whether the event enters the branch (a non-empty reply)."
                        ),
                        "subscriber": kn_schema.destination("Receives the branch's events."),
                        "reply": kn_schema.destination(
                            "Where the subscriber's replies go (default: spec.reply)."
                        ),
                        "delivery": kn_schema.delivery(),
                    },
                    required=("subscriber",),
                ),
            ),
            "channelTemplate": channel_template_schema(
                "The channel implementation used (default InMemoryChannel)."
            ),
            "reply": kn_schema.destination("Where branch replies go by default."),
        },
        required=("branches",),
    ),
    kn_schema.status(
        "The state of the Parallel.",
        {
            "address": kn_schema.address(),
            "ingressChannelStatus": common.channel_status(),
            "branchStatuses": kn_schema.array(
                "One per branch.",
                kn_schema.obj(
                    "The objects of one branch.",
                    {
                        "filterChannelStatus": common.channel_status(),
                        "filterSubscriptionStatus": common.subscription_status(),
                        "subscriberSubscriptionStatus": common.subscription_status(),
                    },
                ),
            ),
        },
    ),
)
