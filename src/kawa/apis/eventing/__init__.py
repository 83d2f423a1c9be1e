"""The eventing.knative.dev API group: Broker, Trigger, EventType, EventPolicy, EventTransform
and RequestReply.

One module per kind (:mod:`.broker`, :mod:`.trigger`, :mod:`.eventtype`, :mod:`.eventpolicy`,
:mod:`.eventtransform`, :mod:`.requestreply`)
with the same shape as Knative's ``pkg/apis/eventing/v1``: typed view, defaults, validation,
immutability, status helpers.
:mod:`.trigger_filters` holds the admission rules of trigger filters.
"""

from kawa.apis import kn_common
from kawa.apis.eventing import (
    broker,
    eventpolicy,
    eventtransform,
    eventtype,
    requestreply,
    trigger,
)
from kawa.apis.eventing.broker import (
    BROKER_CLASS_ANNOTATION,
    BROKER_CONDITIONS,
    DEFAULT_BROKER_CLASS,
    Broker,
    BrokerStatus,
    convert_broker,
    default_broker,
    parse_broker,
    set_broker_address,
    validate_broker,
    validate_broker_update,
)
from kawa.apis.eventing.trigger import (
    TRIGGER_CONDITIONS,
    Trigger,
    TriggerStatus,
    convert_trigger,
    default_trigger,
    effective_delivery,
    mark_broker_missing,
    mark_subscriber_resolved,
    mark_subscriber_unresolved,
    parse_trigger,
    propagate_broker_condition,
    validate_trigger,
    validate_trigger_update,
)
from kawa.apis.kinds import PrinterColumn, ResourceKind

GROUP = "eventing.knative.dev"

_CATEGORIES = ("all", "knative", "eventing")

BROKER = ResourceKind(
    group=GROUP,
    versions=("v1", "v1alpha1"),
    kind=broker.KIND,
    plural="brokers",
    singular="broker",
    namespaced=True,
    model=Broker,
    status=BrokerStatus,
    convert=convert_broker,
    categories=_CATEGORIES,
    printer_columns=(
        PrinterColumn("URL", "string", ".status.address.url"),
        kn_common.AGE,
        kn_common.READY,
        kn_common.REASON,
    ),
)

TRIGGER = ResourceKind(
    group=GROUP,
    versions=("v1", "v1alpha1"),
    kind=trigger.KIND,
    plural="triggers",
    singular="trigger",
    namespaced=True,
    model=Trigger,
    status=TriggerStatus,
    convert=convert_trigger,
    categories=_CATEGORIES,
    printer_columns=(
        PrinterColumn("Broker", "string", ".spec.broker"),
        PrinterColumn("Subscriber_URI", "string", ".status.subscriberUri"),
        kn_common.AGE,
        kn_common.READY,
        kn_common.REASON,
    ),
)

EVENTTYPE = ResourceKind(
    group=GROUP,
    versions=("v1beta3", "v1beta2"),
    kind=eventtype.KIND,
    plural="eventtypes",
    singular="eventtype",
    namespaced=True,
    model=eventtype.EventType,
    status=eventtype.EventTypeStatus,
    categories=_CATEGORIES,
    printer_columns=(
        PrinterColumn("Reference Name", "string", ".spec.reference.name"),
        PrinterColumn("Reference Kind", "string", ".spec.reference.kind"),
        PrinterColumn("Description", "string", ".spec.description"),
        kn_common.READY,
        kn_common.REASON,
        PrinterColumn("Type", "string", value=eventtype.attribute_value("type"), priority=1),
        PrinterColumn("Source", "string", value=eventtype.attribute_value("source"), priority=1),
        PrinterColumn(
            "Data Schema",
            "string",
            value=eventtype.data_schema_summary,
            priority=1,
            description="The JSON Schema kawa inferred from the events' data (its properties)",
        ),
    ),
    convert=eventtype.convert_eventtype,
)
"""EventType (v1beta3 storage, v1beta2 converted)."""

EVENTPOLICY = ResourceKind(
    group=GROUP,
    versions=("v1alpha1",),
    kind=eventpolicy.KIND,
    plural="eventpolicies",
    singular="eventpolicy",
    namespaced=True,
    model=eventpolicy.EventPolicy,
    status=eventpolicy.EventPolicyStatus,
    categories=_CATEGORIES,
    printer_columns=(kn_common.READY, kn_common.REASON),
)
"""EventPolicy (v1alpha1): who may send events to the addressables of its namespace."""

EVENTTRANSFORM = ResourceKind(
    group=GROUP,
    versions=("v1alpha1",),
    kind=eventtransform.KIND,
    plural="eventtransforms",
    singular="eventtransform",
    namespaced=True,
    model=eventtransform.EventTransform,
    status=eventtransform.EventTransformStatus,
    categories=_CATEGORIES,
    printer_columns=(
        PrinterColumn("URL", "string", ".status.address.url"),
        PrinterColumn("Sink", "string", ".status.sinkUri"),
        kn_common.READY,
        kn_common.REASON,
    ),
)
"""EventTransform (v1alpha1): a JSONata transformation of events, addressable."""

REQUESTREPLY = ResourceKind(
    group=GROUP,
    versions=("v1alpha1",),
    kind=requestreply.KIND,
    plural="requestreplies",
    singular="requestreply",
    namespaced=True,
    model=requestreply.RequestReply,
    status=requestreply.RequestReplyStatus,
    categories=_CATEGORIES,
    printer_columns=(
        PrinterColumn("URL", "string", ".status.address.url"),
        kn_common.READY,
        kn_common.REASON,
    ),
)
"""RequestReply (v1alpha1): a synchronous request to a Broker, answered by its reply."""

KINDS = (BROKER, TRIGGER, EVENTTYPE, EVENTPOLICY, EVENTTRANSFORM, REQUESTREPLY)
"""The kinds of this group."""

__all__ = [
    "BROKER",
    "BROKER_CLASS_ANNOTATION",
    "BROKER_CONDITIONS",
    "DEFAULT_BROKER_CLASS",
    "EVENTPOLICY",
    "EVENTTRANSFORM",
    "EVENTTYPE",
    "GROUP",
    "KINDS",
    "REQUESTREPLY",
    "TRIGGER",
    "TRIGGER_CONDITIONS",
    "Broker",
    "Trigger",
    "convert_broker",
    "convert_trigger",
    "default_broker",
    "default_trigger",
    "effective_delivery",
    "eventpolicy",
    "eventtransform",
    "eventtype",
    "mark_broker_missing",
    "mark_subscriber_resolved",
    "mark_subscriber_unresolved",
    "parse_broker",
    "parse_trigger",
    "propagate_broker_condition",
    "requestreply",
    "set_broker_address",
    "validate_broker",
    "validate_broker_update",
    "validate_trigger",
    "validate_trigger_update",
]
