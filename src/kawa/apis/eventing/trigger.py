"""The Trigger kind (eventing.knative.dev/v1, and the 2019 v1alpha1): typed view, defaults,
validation, status.

A Trigger is stored and served as a plain dict. :func:`parse_trigger` validates one (after
applying :func:`default_trigger` to a copy) and returns the typed :class:`Trigger`, raising
:class:`~kawa.errors.ValidationError` (subject ``"Trigger <namespace>/<name>"``) with every
field error. :func:`validate_trigger_update` keeps ``spec.broker`` immutable. The status
helpers maintain ``BrokerReady``, ``SubscriberResolved``, ``DeadLetterSinkResolved``,
``DependencyReady`` and the summary ``Ready``, plus ``status.subscriberUri``.

Registered in :mod:`kawa.apis.registry`; read by the trigger reconciler and by the broker data
plane (which compiles ``filter``/``filters`` with :mod:`kawa.filters`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import duck, kn_common, meta
from kawa.apis.conditions import Clock, Condition, ConditionSet
from kawa.apis.eventing import trigger_filters
from kawa.apis.eventing.broker import Broker
from kawa.errors import FieldError, ValidationError

GROUP: Final = "eventing.knative.dev"
API_VERSION: Final = "eventing.knative.dev/v1"
API_VERSION_V1ALPHA1: Final = "eventing.knative.dev/v1alpha1"
API_VERSIONS: Final = (API_VERSION, API_VERSION_V1ALPHA1)
KIND: Final = "Trigger"

DEFAULT_BROKER: Final = "default"
BROKER_LABEL: Final = "eventing.knative.dev/broker"
DEPENDENCY_ANNOTATION: Final = "knative.dev/dependency"
INJECTION_ANNOTATION: Final = "eventing.knative.dev/injection"
DELIVERY_ORDER_ANNOTATIONS: Final = (
    "kafka.eventing.knative.dev/delivery.order",  # Knative's Kafka broker
    "eventing.kawa.dev/delivery.order",  # kawa's own spelling
)
ORDERED: Final = "ordered"

_SPEC_FIELDS: Final = ("broker", "filter", "filters", "subscriber", "delivery")

# Condition types (Knative's names).
BROKER_READY: Final = "BrokerReady"
SUBSCRIBER_RESOLVED: Final = "SubscriberResolved"
DEAD_LETTER_SINK_RESOLVED: Final = duck.DEAD_LETTER_SINK_RESOLVED
DEPENDENCY_READY: Final = "DependencyReady"

TRIGGER_CONDITIONS: Final = ConditionSet(
    (BROKER_READY, SUBSCRIBER_RESOLVED, DEAD_LETTER_SINK_RESOLVED, DEPENDENCY_READY)
)


@dataclass(frozen=True, slots=True)
class Trigger:
    """A validated Trigger. Dicts and the filter dicts are private copies: treat as read-only.

    ``filter_attributes`` is ``spec.filter.attributes`` (``None`` when absent); ``filters`` is
    ``spec.filters`` as raw, validated dicts (empty when absent). :mod:`kawa.filters` decides
    which one applies.
    """

    api_version: str
    namespace: str
    name: str
    uid: str
    generation: int
    broker: str
    subscriber: duck.Destination
    filter_attributes: dict[str, str] | None
    filters: tuple[dict[str, Any], ...]
    delivery: duck.DeliverySpec | None
    annotations: dict[str, str]

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def ordered(self) -> bool:
        """Whether events are delivered in order per partition (``delivery.order: ordered``)."""
        return any(self.annotations.get(key) == ORDERED for key in DELIVERY_ORDER_ANNOTATIONS)


def default_trigger(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` with Knative's defaults.

    ``spec.filter`` defaults to ``{}`` (match everything), ``ref.namespace`` of the subscriber
    and of the dead-letter sink to the Trigger's namespace, and the label
    ``eventing.knative.dev/broker`` to ``spec.broker``.
    """
    out: meta.Object = copy.deepcopy(dict(obj))
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    if out.get("apiVersion") == API_VERSION_V1ALPHA1 and not spec.get("broker"):
        # converted from v1alpha1: the 2019 API defaulted an empty spec.broker to "default".
        spec["broker"] = DEFAULT_BROKER
    if spec.get("filter") is None:
        spec["filter"] = {}
    namespace = meta.namespace_of(out)
    duck.default_destination(spec.get("subscriber"), namespace)
    duck.default_delivery(spec.get("delivery"), namespace)
    metadata = out.get("metadata")
    broker = spec.get("broker")
    if isinstance(metadata, dict) and isinstance(broker, str) and broker:
        labels = metadata.get("labels")
        if labels is None:
            labels = metadata["labels"] = {}
        if isinstance(labels, dict):
            labels[BROKER_LABEL] = broker
    return out


def parse_trigger(obj: Mapping[str, Any]) -> Trigger:
    """Validate a Trigger dict (defaults applied to a copy first) and return its typed view."""
    obj = default_trigger(obj)
    api_version = obj.get("apiVersion")
    errors: list[FieldError] = []
    if api_version not in API_VERSIONS:
        errors.append(
            FieldError(
                "apiVersion", f"expected one of {', '.join(API_VERSIONS)}, got {api_version!r}"
            )
        )
    if obj.get("kind") != KIND:
        errors.append(FieldError("kind", f"expected {KIND}, got {obj.get('kind')!r}"))
    errors.extend(meta.validate_metadata(obj.get("metadata")))
    namespace = meta.namespace_of(obj)
    annotations = meta.annotations_of(obj)
    spec = obj.get("spec")
    broker = None
    subscriber = delivery = None
    attributes: dict[str, str] | None = None
    filters: tuple[dict[str, Any], ...] = ()
    if not isinstance(spec, Mapping):
        message = "required field is missing" if spec is None else "expected a mapping"
        errors.append(FieldError("spec", message))
    else:
        errors.extend(
            FieldError(f"spec.{key}", f"unknown field; expected one of {', '.join(_SPEC_FIELDS)}")
            for key in spec
            if key not in _SPEC_FIELDS
        )
        broker = meta.read_str(spec, "broker", "spec.broker", errors, required=True)
        attributes = _read_filter(spec.get("filter"), api_version, errors)
        raw_filters = spec.get("filters")
        errors.extend(trigger_filters.validate_filters(raw_filters, "spec.filters"))
        if isinstance(raw_filters, list):
            filters = tuple(f for f in raw_filters if isinstance(f, dict))
        if spec.get("subscriber") is None:
            errors.append(FieldError("spec.subscriber", "required field is missing"))
        else:
            subscriber = duck.read_destination(
                spec["subscriber"], "spec.subscriber", errors, namespace=namespace
            )
        if spec.get("delivery") is not None:
            delivery = duck.read_delivery(
                spec["delivery"], "spec.delivery", errors, namespace=namespace
            )
    errors.extend(_annotation_errors(annotations, namespace, broker))
    if errors or broker is None or subscriber is None:
        raise ValidationError(
            errors or [FieldError("spec", "invalid")], subject=meta.subject_of(KIND, obj)
        )
    metadata = meta.metadata_of(obj)
    generation = metadata.get("generation")
    return Trigger(
        api_version=str(api_version),
        namespace=namespace,
        name=str(metadata["name"]),
        uid=str(metadata.get("uid") or ""),
        generation=generation if isinstance(generation, int) else 0,
        broker=broker,
        subscriber=subscriber,
        filter_attributes=attributes,
        filters=filters,
        delivery=delivery,
        annotations=annotations,
    )


def _read_filter(value: Any, api_version: Any, errors: list[FieldError]) -> dict[str, str] | None:
    """``spec.filter``: ``attributes`` (v1), or the 2019 ``sourceAndType`` (v1alpha1)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors.append(FieldError("spec.filter", f"expected a mapping, got {meta.type_name(value)}"))
        return None
    legacy = api_version == API_VERSION_V1ALPHA1
    allowed = ("attributes", "sourceAndType") if legacy else ("attributes",)
    for key in value:
        if key == "sourceAndType" and not legacy:
            errors.append(
                FieldError(
                    "spec.filter.sourceAndType",
                    f"only exists in {API_VERSION_V1ALPHA1}; use attributes: "
                    "{type: ..., source: ...}",
                )
            )
        elif key not in allowed:
            errors.append(
                FieldError(f"spec.filter.{key}", f"unknown field; expected {' or '.join(allowed)}")
            )
    attributes = value.get("attributes")
    found = trigger_filters.validate_attributes(attributes, "spec.filter.attributes")
    errors.extend(found)
    source_and_type = value.get("sourceAndType") if legacy else None
    if source_and_type is not None:
        # converted from v1alpha1: sourceAndType {type, source} is an attributes filter on
        # type and source, "" meaning any value.
        if attributes is not None:
            errors.append(
                FieldError("spec.filter", "expected at most one of attributes or sourceAndType")
            )
            return None
        if not isinstance(source_and_type, Mapping):
            errors.append(
                FieldError("spec.filter.sourceAndType", "expected a mapping of type and source")
            )
            return None
        converted: dict[str, str] = {}
        for key in ("type", "source"):
            item = meta.read_str(source_and_type, key, f"spec.filter.sourceAndType.{key}", errors)
            converted[key] = item or ""
        return converted
    if found or attributes is None:
        return None
    return dict(attributes)


def _annotation_errors(
    annotations: Mapping[str, str], namespace: str, broker: str | None
) -> list[FieldError]:
    errors: list[FieldError] = []
    dependency = annotations.get(DEPENDENCY_ANNOTATION)
    if dependency is not None:
        path = f"metadata.annotations[{DEPENDENCY_ANNOTATION}]"
        try:
            ref = json.loads(dependency)
        except ValueError:
            ref = None
        if not isinstance(ref, dict):
            errors.append(
                FieldError(
                    path,
                    "expected a JSON object reference "
                    '{"apiVersion": ..., "kind": ..., "name": ...}',
                )
            )
        else:
            for key in ("kind", "name", "apiVersion"):
                if not ref.get(key) or not isinstance(ref[key], str):
                    errors.append(FieldError(f"{path}.{key}", "required field is missing"))
            ref_namespace = ref.get("namespace")
            if ref_namespace and ref_namespace != namespace:
                errors.append(
                    FieldError(
                        f"{path}.namespace",
                        f"must be empty or equal to the trigger namespace {namespace!r}",
                    )
                )
    injection = annotations.get(INJECTION_ANNOTATION)
    if injection is not None:
        path = f"metadata.annotations[{INJECTION_ANNOTATION}]"
        if injection not in ("enabled", "disabled"):
            errors.append(FieldError(path, f'must be "enabled" or "disabled", got {injection!r}'))
        elif broker is not None and broker != DEFAULT_BROKER:
            errors.append(
                FieldError(
                    path,
                    f"only applies to the default broker, but spec.broker is {broker!r}",
                )
            )
    return errors


def validate_trigger(obj: Mapping[str, Any]) -> None:
    """Raise :class:`ValidationError` when ``obj`` (defaults applied) is not a valid Trigger."""
    parse_trigger(obj)


def validate_trigger_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Knative's immutability rule: ``spec.broker`` never changes (validate ``new`` separately)."""
    old_broker = _spec_broker(default_trigger(old))
    new_broker = _spec_broker(default_trigger(new))
    if old_broker != new_broker:
        raise ValidationError.single(
            "spec.broker",
            f"immutable field changed from {old_broker!r} to {new_broker!r}; "
            "delete and recreate the Trigger to move it to another broker",
            subject=meta.subject_of(KIND, new),
        )


def _spec_broker(obj: Mapping[str, Any]) -> Any:
    spec = obj.get("spec")
    return spec.get("broker") if isinstance(spec, Mapping) else None


def convert_trigger(obj: Mapping[str, Any], api_version: str) -> meta.Object:
    """``obj`` as ``api_version`` (v1, the storage version, or the 2019 v1alpha1).

    To v1: an empty ``spec.broker`` becomes ``default`` (v1alpha1's defaulting) and
    ``filter.sourceAndType {type, source}`` becomes ``filter.attributes`` with the same two
    keys (``""`` still meaning any value). Back to v1alpha1 such a filter is
    ``sourceAndType`` again (remembered in an annotation), so a round trip is lossless.
    """
    if api_version not in API_VERSIONS:
        raise kn_common.convert_unsupported(KIND, api_version, API_VERSIONS)
    out = kn_common.deep_copy(obj)
    source_version = out.get("apiVersion")
    out["apiVersion"] = api_version
    spec = out.get("spec")
    if source_version == api_version or not isinstance(spec, dict):
        return out
    filter_ = spec.get("filter")
    if api_version == API_VERSION:
        kn_common.unstash(out, "v1alpha1")
        if not spec.get("broker"):
            spec["broker"] = DEFAULT_BROKER
        if isinstance(filter_, dict) and isinstance(filter_.get("sourceAndType"), Mapping):
            pair = filter_.pop("sourceAndType")
            filter_["attributes"] = {k: str(pair.get(k) or "") for k in ("type", "source")}
            kn_common.stash(out, "v1alpha1", {"sourceAndType": True})
    elif isinstance(filter_, dict) and kn_common.unstash(out, "v1alpha1").get("sourceAndType"):
        attributes = filter_.get("attributes")
        if isinstance(attributes, Mapping) and set(attributes) == {"type", "source"}:
            filter_["sourceAndType"] = dict(filter_.pop("attributes"))
    return out


def effective_delivery(trigger: Trigger, broker: Broker | None) -> duck.DeliverySpec:
    """The delivery a trigger's events get: its own, else its broker's, else the defaults.

    A trigger's ``delivery`` replaces the broker's whole (no field-by-field merge).
    """
    if trigger.delivery is not None:
        return trigger.delivery
    if broker is not None and broker.delivery is not None:
        return broker.delivery
    return duck.BROKER_DEFAULT_DELIVERY


# -- status ----------------------------------------------------------------------------------


def propagate_broker_condition(
    status: dict[str, Any], broker_ready: Condition | None, *, clock: Clock
) -> None:
    """Copy the Broker's ``Ready`` into ``BrokerReady`` (``None``: not reconciled yet)."""
    TRIGGER_CONDITIONS.propagate(
        status,
        BROKER_READY,
        broker_ready,
        reason_if_missing="BrokerNotConfigured",
        message_if_missing="Broker has not yet been reconciled.",
        clock=clock,
    )


def mark_broker_missing(status: dict[str, Any], broker: str, *, clock: Clock) -> None:
    """The Trigger's broker does not exist: ``BrokerReady`` False, reason BrokerDoesNotExist."""
    TRIGGER_CONDITIONS.mark_false(
        status, BROKER_READY, "BrokerDoesNotExist", f'Broker "{broker}" does not exist', clock=clock
    )


def mark_subscriber_resolved(status: dict[str, Any], uri: str, *, clock: Clock) -> None:
    """Record the subscriber's resolved URL in ``status.subscriberUri``."""
    status["subscriberUri"] = uri
    TRIGGER_CONDITIONS.mark_true(status, SUBSCRIBER_RESOLVED, clock=clock)


def mark_subscriber_unresolved(
    status: dict[str, Any], reason: str, message: str, *, clock: Clock
) -> None:
    """The subscriber cannot be resolved: ``status.subscriberUri`` is ``""``."""
    status["subscriberUri"] = ""
    TRIGGER_CONDITIONS.mark_false(status, SUBSCRIBER_RESOLVED, reason, message, clock=clock)
