"""OpenAPI schemas of Broker and Trigger (``kubectl explain broker.spec`` ...)."""

from __future__ import annotations

from typing import Final

from kawa.apis import kn_schema as s

_FILTER_DIALECTS: Final = s.obj(
    "One filter: exactly one dialect (exact, prefix, suffix, all, any, not, cesql).",
    {
        "exact": s.string_map("Attribute -> value: the attribute equals the value."),
        "prefix": s.string_map("Attribute -> prefix: the attribute starts with the prefix."),
        "suffix": s.string_map("Attribute -> suffix: the attribute ends with the suffix."),
        "all": s.array(
            "Filters that must all match.",
            {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        ),
        "any": s.array(
            "Filters of which at least one must match.",
            {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        ),
        "not": {
            "type": "object",
            "description": "A filter that must not match.",
            "x-kubernetes-preserve-unknown-fields": True,
        },
        "cesql": s.string("A CloudEvents SQL expression that must be true."),
    },
)

BROKER_SCHEMA: Final = {
    "description": "A Broker receives events and delivers them to the subscribers of its Triggers.",
    **s.kind_schema(
        s.obj(
            "The desired state of the Broker.",
            {
                "config": s.kreference("Configuration of the broker's implementation."),
                "delivery": s.delivery("The default delivery of the broker's triggers."),
            },
        ),
        s.status(
            "The observed state of the Broker.",
            {
                "address": s.address("Where the broker receives events (its ingress)."),
                "deadLetterSinkUri": s.string("The resolved URL of the dead-letter sink."),
            },
        ),
    ),
}

TRIGGER_SCHEMA: Final = {
    "description": "A Trigger subscribes a subscriber to the events of a Broker that pass "
    "its filters.",
    **s.kind_schema(
        s.obj(
            "The desired state of the Trigger.",
            {
                "broker": s.string("The name of the Broker (in the same namespace); immutable."),
                "filter": s.obj(
                    "Exact-match filtering on event attributes.",
                    {
                        "attributes": s.string_map(
                            "Attribute -> value; all must match (an empty value matches any)."
                        )
                    },
                ),
                "filters": s.array(
                    "Filters that must all match; when not empty, they replace filter.",
                    _FILTER_DIALECTS,
                ),
                "subscriber": s.destination("Where matching events are delivered."),
                "delivery": s.delivery("How events are delivered (replaces the broker's)."),
            },
            required=("broker", "subscriber"),
        ),
        s.status(
            "The observed state of the Trigger.",
            {
                "subscriberUri": s.string("The resolved URL of the subscriber."),
                "deadLetterSinkUri": s.string("The resolved URL of the dead-letter sink."),
            },
        ),
    ),
}
