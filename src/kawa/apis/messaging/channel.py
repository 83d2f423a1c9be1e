"""The Channel kind (messaging.knative.dev/v1) and the channel pieces shared with flows.

A Channel names, in ``spec.channelTemplate`` (``{apiVersion, kind, spec}``, defaulted to an
InMemoryChannel), the implementation that backs it; the reconciler creates that backing
channel, records it in ``status.channel`` and copies its address to ``status.address.url``.
``channelTemplate`` is immutable, and ``spec.subscribers`` belongs to the controllers (the
Subscriptions), so users may not set it on a Channel. :func:`read_channel_template` and
:data:`DEFAULT_CHANNEL_TEMPLATE` are also used by Sequence and Parallel
(:mod:`kawa.apis.flows`). Declared in :data:`kawa.apis.messaging.KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import duck, kn_common, kn_schema, meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.errors import FieldError, ValidationError

GROUP: Final = "messaging.knative.dev"
API_VERSION: Final = "messaging.knative.dev/v1"
KIND: Final = "Channel"

DEFAULT_CHANNEL_TEMPLATE: Final = {"apiVersion": API_VERSION, "kind": "InMemoryChannel"}
"""Knative's ``default-ch-webhook`` default: an InMemoryChannel."""

_SPEC_FIELDS: Final = ("channelTemplate", "subscribers", "delivery")

BACKING_CHANNEL_READY: Final = "BackingChannelReady"
ADDRESSABLE: Final = "Addressable"
DEAD_LETTER_SINK_RESOLVED: Final = duck.DEAD_LETTER_SINK_RESOLVED
CHANNEL_CONDITIONS: Final = ConditionSet(
    (BACKING_CHANNEL_READY, ADDRESSABLE, DEAD_LETTER_SINK_RESOLVED)
)


@dataclass(frozen=True, slots=True)
class ChannelTemplate:
    """Which channel implementation to create, and its spec (a private copy)."""

    api_version: str
    kind: str
    spec: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"apiVersion": self.api_version, "kind": self.kind}
        if self.spec:
            out["spec"] = dict(self.spec)
        return out


@dataclass(frozen=True, slots=True)
class Channel:
    namespace: str
    name: str
    uid: str
    generation: int
    channel_template: ChannelTemplate
    delivery: duck.DeliverySpec | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def read_channel_template(
    value: Any, path: str, errors: list[FieldError]
) -> ChannelTemplate | None:
    """``{apiVersion, kind, spec?}`` with ``apiVersion`` and ``kind`` required."""
    if not isinstance(value, Mapping):
        errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(value)}"))
        return None
    before = len(errors)
    kn_common.unknown_fields(value, ("apiVersion", "kind", "spec"), path, errors)
    api_version = meta.read_str(value, "apiVersion", f"{path}.apiVersion", errors, required=True)
    kind = meta.read_str(value, "kind", f"{path}.kind", errors, required=True)
    spec = meta.read_mapping(value, "spec", f"{path}.spec", errors)
    if len(errors) > before or api_version is None or kind is None:
        return None
    return ChannelTemplate(api_version, kind, dict(spec or {}))


def default_channel(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with ``channelTemplate`` defaulted (InMemoryChannel) and ref namespaces filled."""
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if spec is None:
        spec = out["spec"] = {}
    if isinstance(spec, dict):
        if spec.get("channelTemplate") is None:
            spec["channelTemplate"] = dict(DEFAULT_CHANNEL_TEMPLATE)
        duck.default_delivery(spec.get("delivery"), meta.namespace_of(out))
    return out


def parse_channel(obj: Mapping[str, Any]) -> Channel:
    obj = default_channel(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=False)
    template = read_channel_template(spec.get("channelTemplate"), "spec.channelTemplate", errors)
    if spec.get("subscribers"):
        errors.append(
            FieldError(
                "spec.subscribers",
                "must not be set on a Channel: create Subscriptions to subscribe",
            )
        )
    delivery = None
    if spec.get("delivery") is not None:
        delivery = duck.read_delivery(
            spec["delivery"], "spec.delivery", errors, namespace=who.namespace
        )
    kn_common.raise_if_errors(errors, KIND, obj)
    if template is None:
        raise ValidationError.single("spec.channelTemplate", "required field is missing")
    return Channel(who.namespace, who.name, who.uid, who.generation, template, delivery)


def validate_channel(obj: Mapping[str, Any]) -> None:
    parse_channel(obj)


def _channel_template(obj: Mapping[str, Any]) -> Any:
    spec = default_channel(obj).get("spec")
    return spec.get("channelTemplate") if isinstance(spec, Mapping) else None


def validate_channel_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """``spec.channelTemplate`` is immutable."""
    old_t, new_t = _channel_template(old), _channel_template(new)
    if old_t != new_t:
        raise ValidationError.single(
            "spec.channelTemplate",
            f"immutable field changed from {old_t!r} to {new_t!r}",
            subject=meta.subject_of(KIND, new),
        )


# -- status ----------------------------------------------------------------------------------


def mark_backing_channel(
    status: dict[str, Any],
    ref: duck.KReference,
    ready: bool | None,
    address: str | None,
    *,
    clock: Clock,
) -> None:
    """Record the backing channel (``status.channel``), its readiness and its address."""
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
    set_address(CHANNEL_CONDITIONS, status, address, clock=clock)


def set_address(
    conditions: ConditionSet, status: dict[str, Any], url: str | None, *, clock: Clock
) -> None:
    """Publish ``status.address.url`` and mark ``Addressable`` (False without a URL)."""
    if url:
        status["address"] = {"url": url}
        conditions.mark_true(status, ADDRESSABLE, clock=clock)
    else:
        status.pop("address", None)
        conditions.mark_false(
            status, ADDRESSABLE, "NoAddress", "The channel has no address yet.", clock=clock
        )


def channel_template_schema(description: str) -> kn_schema.Schema:
    return kn_schema.obj(
        description,
        {
            "apiVersion": kn_schema.string("API version of the channel implementation."),
            "kind": kn_schema.string("Kind of the channel implementation (InMemoryChannel...)."),
            "spec": kn_schema.free("The spec given to each created channel."),
        },
        required=("apiVersion", "kind"),
    )


def subscribers_schema() -> kn_schema.Schema:
    return kn_schema.array(
        "The subscribers of the channel, maintained from its Subscriptions.",
        kn_schema.obj(
            "One subscriber.",
            {
                "uid": kn_schema.string("UID of the Subscription."),
                "generation": kn_schema.integer("Generation of the Subscription."),
                "subscriberUri": kn_schema.string("Where events are sent."),
                "replyUri": kn_schema.string("Where replies are sent."),
                "delivery": kn_schema.delivery(),
            },
        ),
    )


def channelable_status(description: str, extra: Mapping[str, kn_schema.Schema]) -> kn_schema.Schema:
    return kn_schema.status(
        description,
        {
            "address": kn_schema.address(),
            "deadLetterSinkUri": kn_schema.string("The resolved dead-letter sink."),
            "subscribers": kn_schema.array(
                "The subscribers as the channel sees them.",
                kn_schema.obj(
                    "A subscriber's state.",
                    {
                        "uid": kn_schema.string("UID of the Subscription."),
                        "observedGeneration": kn_schema.integer("Its generation acted on."),
                        "ready": kn_schema.string("True, False or Unknown."),
                        "message": kn_schema.string("Why it is not ready."),
                    },
                ),
            ),
            **extra,
        },
    )


SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "A channel: an addressable that forwards each event to every subscriber.",
        {
            "channelTemplate": channel_template_schema(
                "The channel implementation backing this Channel (default InMemoryChannel)."
            ),
            "subscribers": subscribers_schema(),
            "delivery": kn_schema.delivery(),
        },
    ),
    channelable_status(
        "The state of the Channel.",
        {"channel": kn_schema.kreference("The backing channel.")},
    ),
)
