"""The Trigger kind (eventing.knative.dev/v1, and the 2019 v1alpha1), declared once.

:class:`TriggerSpec` and :class:`Trigger` are the declaration (ADR 0014): parser, defaults
(``spec.filter: {}``, reference namespaces, the ``eventing.knative.dev/broker`` label), the
immutable ``spec.broker``, the annotation rules and the schema all come from them, and the
parsed :class:`Trigger` is the typed view. :func:`parse_trigger` converts a v1alpha1 Trigger
(:func:`convert_trigger`) and parses it. The status helpers maintain ``BrokerReady``,
``SubscriberResolved``, ``DeadLetterSinkResolved``, ``DependencyReady`` and the summary
``Ready``, plus ``status.subscriberUri`` and the precise moment it turned Ready.

Declared in :mod:`kawa.apis.eventing`; read by the trigger reconciler and by the broker data
plane (which compiles ``filter``/``filters`` with :mod:`kawa.filters`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck, kn_common, limits, meta, reply_types
from kawa.apis.conditions import Clock, Condition, ConditionSet, get_condition
from kawa.apis.eventing import data_filter, trigger_filters
from kawa.apis.eventing.broker import Broker
from kawa.apis.eventing.trigger_filters import SubscriptionsAPIFilter, TriggerFilter
from kawa.apis.model.base import STORED, Context, Immutable, Model, doc
from kawa.apis.model.objects import KubeObject, default_object, parse_object, update_errors
from kawa.apis.model.types import Text
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

# Condition types (Knative's names).
BROKER_READY: Final = "BrokerReady"
SUBSCRIBER_RESOLVED: Final = "SubscriberResolved"
DEAD_LETTER_SINK_RESOLVED: Final = duck.DEAD_LETTER_SINK_RESOLVED
DEPENDENCY_READY: Final = "DependencyReady"

OIDC_IDENTITY_CREATED: Final = duck.OIDC_IDENTITY_CREATED
LOOP_FREE: Final = "LoopFree"
"""kawa's warning condition: ``False`` (reason :data:`LOOP_DETECTED`, severity ``Warning``)
while the Trigger is on an event loop (:mod:`kawa.loops`), absent otherwise; not part of
``Ready``."""
LOOP_DETECTED: Final = "LoopDetected"
TRIGGER_CONDITIONS: Final = ConditionSet(
    (
        BROKER_READY,
        SUBSCRIBER_RESOLVED,
        DEAD_LETTER_SINK_RESOLVED,
        DEPENDENCY_READY,
        OIDC_IDENTITY_CREATED,
    )
)


class TriggerSpec(Model):
    """The desired state of the Trigger."""

    broker: Annotated[
        Text,
        doc("The name of the Broker (in the same namespace); immutable."),
        Immutable("delete and recreate the Trigger to move it to another broker"),
    ]
    filter: Annotated[
        TriggerFilter | None, doc("Exact-match filtering on event attributes."), STORED
    ] = TriggerFilter()
    filters: Annotated[
        list[SubscriptionsAPIFilter],
        doc("Filters that must all match; when not empty, they replace filter."),
    ] = []
    subscriber: Annotated[duck.Destination, doc("Where matching events are delivered.")]
    delivery: Annotated[
        duck.DeliverySpec | None, doc("How events are delivered (replaces the broker's).")
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        return trigger_filters.depth_errors(self.filters, "filters")

    @property
    def filter_attributes(self) -> dict[str, str] | None:
        """``filter.attributes`` (``None`` when absent)."""
        return None if self.filter is None else self.filter.attributes


class Trigger(KubeObject):
    """A Trigger subscribes a subscriber to the events of a Broker that pass its filters."""

    spec: Annotated[TriggerSpec, doc("The desired state of the Trigger.")]

    @property
    def ordered(self) -> bool:
        """Whether events are delivered in order per partition (``delivery.order: ordered``)."""
        annotations = self.metadata.annotations or {}
        return any(annotations.get(key) == ORDERED for key in DELIVERY_ORDER_ANNOTATIONS)

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """The label ``eventing.knative.dev/broker`` follows ``spec.broker``; a Trigger of the
        2019 v1alpha1 API without a broker names the ``default`` one."""
        spec = data.get("spec")
        if not isinstance(spec, dict):
            return
        if ctx.api_version == API_VERSION_V1ALPHA1 and not spec.get("broker"):
            spec["broker"] = DEFAULT_BROKER
        broker = spec.get("broker")
        metadata = data.get("metadata")
        if isinstance(metadata, dict) and isinstance(broker, str) and broker:
            labels = metadata.get("labels")
            if labels is None:
                labels = metadata["labels"] = {}
            if isinstance(labels, dict):
                labels[BROKER_LABEL] = broker

    def check(self, ctx: Context) -> Iterable[FieldError]:
        return _annotation_errors(self.annotations, self.namespace, self.spec.broker)


class TriggerStatus(duck.Status):
    """The observed state of the Trigger."""

    subscriber_uri: Annotated[str | None, doc("The resolved URL of the subscriber.")] = None
    subscriber_audience: Annotated[
        str | None, doc("The OIDC audience of the subscriber (authentication-oidc).")
    ] = None
    subscriber_ca_certs: Annotated[
        str | None,
        doc(
            "The PEM certificates the subscriber's https certificate verifies against.",
            alias="subscriberCACerts",
        ),
    ] = None
    auth: Annotated[
        duck.AuthStatus | None, doc("The identity the Trigger's deliveries present.")
    ] = None
    dead_letter_sink_uri: Annotated[
        str | None, doc("The resolved URL of the dead-letter sink.")
    ] = None
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


def default_trigger(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` with Knative's defaults.

    ``spec.filter`` defaults to ``{}`` (match everything), ``ref.namespace`` of the subscriber
    and of the dead-letter sink to the Trigger's namespace, and the label
    ``eventing.knative.dev/broker`` to ``spec.broker``.
    """
    return default_object(Trigger, obj, namespaced=True)


def parse_trigger(obj: Mapping[str, Any]) -> Trigger:
    """Validate a Trigger dict (converted to v1, defaults applied to a copy) and return it
    typed; raises :class:`ValidationError` (subject ``"Trigger <namespace>/<name>"``)."""
    if obj.get("apiVersion") == API_VERSION_V1ALPHA1:
        obj = convert_trigger(obj, API_VERSION)
    return parse_object(Trigger, obj, kind=KIND, api_versions=API_VERSIONS, namespaced=True)


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
    errors += limits.limit_errors(annotations)
    errors += reply_types.reply_type_errors(annotations)
    data = annotations.get(data_filter.ANNOTATION)
    if data is not None:
        try:
            data_filter.parse_conditions(data)
        except ValueError as err:
            errors.append(FieldError(f"metadata.annotations[{data_filter.ANNOTATION}]", str(err)))
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
    errors = update_errors(Trigger, default_trigger(old), default_trigger(new))
    if errors:
        raise ValidationError(errors, subject=meta.subject_of(KIND, new))


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
    if trigger.spec.delivery is not None:
        return trigger.spec.delivery
    if broker is not None and broker.spec.delivery is not None:
        return broker.spec.delivery
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


def mark_loop(status: dict[str, Any], loop: str | None, *, clock: Clock) -> None:
    """``LoopFree`` ``False`` naming the ``loop`` the Trigger is on; none: no condition."""
    if loop is None:
        TRIGGER_CONDITIONS.clear(status, LOOP_FREE)
    else:
        TRIGGER_CONDITIONS.mark_warning(status, LOOP_FREE, LOOP_DETECTED, loop, clock=clock)


def mark_subscriber_resolved(
    status: dict[str, Any],
    uri: str,
    *,
    clock: Clock,
    audience: str | None = None,
    ca_certs: str | None = None,
) -> None:
    """Record the subscriber's resolved URL in ``status.subscriberUri`` (and its OIDC
    audience in ``status.subscriberAudience``, its ``CACerts`` in
    ``status.subscriberCACerts``, when it has them)."""
    status["subscriberUri"] = uri
    for key, value in (("subscriberAudience", audience), ("subscriberCACerts", ca_certs)):
        if value:
            status[key] = value
        else:
            status.pop(key, None)
    TRIGGER_CONDITIONS.mark_true(status, SUBSCRIBER_RESOLVED, clock=clock)


def mark_subscriber_unresolved(
    status: dict[str, Any], reason: str, message: str, *, clock: Clock
) -> None:
    """The subscriber cannot be resolved: ``status.subscriberUri`` is ``""`` (and its
    audience gone)."""
    status["subscriberUri"] = ""
    status.pop("subscriberAudience", None)
    status.pop("subscriberCACerts", None)
    TRIGGER_CONDITIONS.mark_false(status, SUBSCRIBER_RESOLVED, reason, message, clock=clock)


READY_SINCE_ANNOTATION: Final = "eventing.kawa.dev/ready-since"
"""Status annotation: the moment ``Ready`` last turned True, to the microsecond (RFC 3339);
``lastTransitionTime`` has whole seconds only. A new trigger's consumer starts there."""


def record_ready_since(status: dict[str, Any], *, clock: Clock) -> None:
    """Keep :data:`READY_SINCE_ANNOTATION` in ``status.annotations`` while ``Ready`` is True
    (set when it turns True, kept while it stays so), and drop it otherwise."""
    ready = get_condition(status, "Ready")
    annotations = dict(status.get("annotations") or {})
    if ready is not None and ready.status == "True":
        annotations.setdefault(READY_SINCE_ANNOTATION, clock().isoformat(timespec="microseconds"))
    else:
        annotations.pop(READY_SINCE_ANNOTATION, None)
    if annotations:
        status["annotations"] = annotations
    else:
        status.pop("annotations", None)


def mark_oidc_identity(
    status: dict[str, Any], service_account: str | None, *, clock: Clock
) -> None:
    """``OIDCIdentityCreated`` of a Trigger (:func:`kawa.apis.duck.mark_oidc_identity`)."""
    duck.mark_oidc_identity(TRIGGER_CONDITIONS, status, service_account, clock=clock)


def mark_oidc_identity_failed(status: dict[str, Any], message: str, *, clock: Clock) -> None:
    """The Trigger's ServiceAccount could not be made: ``OIDCIdentityCreated`` False."""
    duck.mark_oidc_identity_failed(TRIGGER_CONDITIONS, status, message, clock=clock)
