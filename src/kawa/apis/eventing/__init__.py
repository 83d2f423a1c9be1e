"""The eventing.knative.dev API group: Broker and Trigger.

One module per kind (:mod:`.broker`, :mod:`.trigger`) with the same shape as Knative's
``pkg/apis/eventing/v1``: typed view, defaults, validation, immutability, status helpers.
:mod:`.trigger_filters` holds the admission rules of trigger filters.
"""

from kawa.apis.eventing.broker import (
    BROKER_CLASS_ANNOTATION,
    BROKER_CONDITIONS,
    DEFAULT_BROKER_CLASS,
    Broker,
    default_broker,
    parse_broker,
    set_broker_address,
    validate_broker,
    validate_broker_update,
)
from kawa.apis.eventing.trigger import (
    TRIGGER_CONDITIONS,
    Trigger,
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

GROUP = "eventing.knative.dev"

__all__ = [
    "BROKER_CLASS_ANNOTATION",
    "BROKER_CONDITIONS",
    "DEFAULT_BROKER_CLASS",
    "GROUP",
    "TRIGGER_CONDITIONS",
    "Broker",
    "Trigger",
    "default_broker",
    "default_trigger",
    "effective_delivery",
    "mark_broker_missing",
    "mark_subscriber_resolved",
    "mark_subscriber_unresolved",
    "parse_broker",
    "parse_trigger",
    "propagate_broker_condition",
    "set_broker_address",
    "validate_broker",
    "validate_broker_update",
    "validate_trigger",
    "validate_trigger_update",
]
