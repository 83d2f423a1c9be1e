from __future__ import annotations

import json
from typing import Any

import pytest

from kawa.apis import duck, eventing
from kawa.apis.conditions import Condition
from kawa.apis.duck import BROKER_DEFAULT_DELIVERY, DeliverySpec, Destination, KReference
from kawa.apis.eventing import trigger as trigger_module
from kawa.errors import ValidationError

from .helpers import FakeClock, broker_obj, field_errors, new_status, trigger_obj

SUB = {"uri": "http://example.com/"}
SVC = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "display"}


def spec(**fields: Any) -> dict[str, Any]:
    return {"broker": "default", "subscriber": SUB, **fields}


def test_minimal_trigger() -> None:
    t = eventing.parse_trigger(trigger_obj(uid="abc", generation=4))
    assert t.api_version == "eventing.knative.dev/v1"
    assert (t.namespace, t.name, t.uid, t.generation, t.spec.broker) == (
        "default",
        "t",
        "abc",
        4,
        "default",
    )
    assert t.key == "default/t"
    assert t.spec.subscriber == Destination(uri="http://example.com/")
    assert t.spec.filter_attributes is None
    assert t.spec.filters == []
    assert t.spec.delivery is None
    assert not t.ordered


def test_full_trigger() -> None:
    filters = [{"exact": {"type": "a"}}, {"not": {"prefix": {"source": "/x"}}}]
    t = eventing.parse_trigger(
        trigger_obj(
            spec(
                subscriber={"ref": SVC, "uri": "/events"},
                filter={"attributes": {"type": "dev.x", "source": ""}},
                filters=filters,
                delivery={"retry": 1, "deadLetterSink": {"ref": SVC}},
            ),
            namespace="ns1",
        )
    )
    ref = KReference(
        api_version="serving.knative.dev/v1", kind="Service", name="display", namespace="ns1"
    )
    assert t.spec.subscriber == Destination(ref=ref, uri="/events")
    assert t.spec.filter_attributes == {"type": "dev.x", "source": ""}
    assert [f.as_dict() for f in t.spec.filters] == filters
    assert t.spec.delivery == DeliverySpec(retry=1, dead_letter_sink=Destination(ref=ref))


def test_parse_does_not_modify_its_input() -> None:
    obj = trigger_obj(spec(subscriber={"ref": dict(SVC)}))
    before = json.dumps(obj, sort_keys=True)
    eventing.parse_trigger(obj)
    eventing.default_trigger(obj)
    assert json.dumps(obj, sort_keys=True) == before


def test_defaults() -> None:
    out = eventing.default_trigger(
        trigger_obj(
            {
                "broker": "b1",
                "subscriber": {"ref": dict(SVC)},
                "delivery": {"deadLetterSink": {"ref": dict(SVC)}},
            },
            namespace="ns1",
            labels={"app": "x"},
        )
    )
    assert out["spec"]["filter"] == {}
    assert out["spec"]["subscriber"]["ref"]["namespace"] == "ns1"
    assert out["spec"]["delivery"]["deadLetterSink"]["ref"]["namespace"] == "ns1"
    assert out["metadata"]["labels"] == {"app": "x", "eventing.knative.dev/broker": "b1"}


@pytest.mark.parametrize(
    "annotation",
    ["kafka.eventing.knative.dev/delivery.order", "eventing.kawa.dev/delivery.order"],
)
def test_ordered_delivery_annotations(annotation: str) -> None:
    assert eventing.parse_trigger(trigger_obj(annotations={annotation: "ordered"})).ordered
    assert not eventing.parse_trigger(trigger_obj(annotations={annotation: "unordered"})).ordered


def test_v1alpha1_defaults_the_broker_and_converts_source_and_type() -> None:
    obj = trigger_obj({"subscriber": SUB, "filter": {"sourceAndType": {"type": "dev.x"}}})
    obj["apiVersion"] = "eventing.knative.dev/v1alpha1"
    t = eventing.parse_trigger(obj)
    assert t.api_version == "eventing.knative.dev/v1"  # parsed as the storage version
    assert t.spec.broker == "default"
    assert t.spec.filter_attributes == {"type": "dev.x", "source": ""}
    assert eventing.default_trigger(obj)["spec"]["broker"] == "default"


def test_v1_requires_the_broker() -> None:
    errors = field_errors(lambda: eventing.parse_trigger(trigger_obj({"subscriber": SUB})))
    assert errors == {"spec.broker": "required field is missing"}


# Invalid manifests: the spec (or a patch of the object) and every expected (path, message).
INVALID_SPECS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    (
        "no subscriber",
        {"broker": "default"},
        {"spec.subscriber": "required field is missing"},
    ),
    (
        "empty subscriber",
        spec(subscriber={}),
        {"spec.subscriber": "expected at least one of ref or uri, got neither"},
    ),
    (
        "relative uri alone",
        spec(subscriber={"uri": "/x"}),
        {"spec.subscriber.uri": "must be an absolute URL (scheme and host) when there is no ref"},
    ),
    (
        "ref without name",
        spec(subscriber={"ref": {"apiVersion": "v1", "kind": "Service"}}),
        {"spec.subscriber.ref.name": "required field is missing"},
    ),
    (
        "broker not a string",
        spec(broker=5),
        {"spec.broker": "expected a string, got a number (quote it in YAML)"},
    ),
    (
        "unknown spec field",
        spec(filtres=[]),
        {"spec.filtres": "unknown field; expected one of broker, filter, filters"},
    ),
    *[
        (
            f"attribute name {name!r}",
            spec(filter={"attributes": {name: "x"}}),
            {
                f"spec.filter.attributes[{name}]": f"invalid attribute name {name!r}: must start "
                "with a lowercase letter and contain only lowercase letters and digits"
            },
        )
        for name in ["SOURCE", "a-b", "a_b", "123", "\N{PARTY POPPER}", "Type", ""]
    ],
    (
        "attribute value not a string",
        spec(filter={"attributes": {"retries": 3}}),
        {"spec.filter.attributes[retries]": "expected a string, got a number (quote it in YAML)"},
    ),
    (
        "attributes not a map",
        spec(filter={"attributes": ["type"]}),
        {"spec.filter.attributes": "expected a mapping, got a list"},
    ),
    (
        "sourceAndType in v1",
        spec(filter={"sourceAndType": {"type": "x"}}),
        {"spec.filter.sourceAndType": "only exists in eventing.knative.dev/v1alpha1"},
    ),
    (
        "unknown filter field",
        spec(filter={"attribute": {"type": "x"}}),
        {"spec.filter.attribute": "unknown field; expected one of attributes"},
    ),
    (
        "filters not a list",
        spec(filters={"exact": {"type": "x"}}),
        {"spec.filters": "expected a list, got a mapping"},
    ),
    (
        "filter element not a mapping",
        spec(filters=["type=x"]),
        {"spec.filters[0]": "expected a mapping, got a string"},
    ),
    (
        "no dialect",
        spec(filters=[{}]),
        {
            "spec.filters[0]": "expected exactly one of exact, prefix, suffix, all, any, not, "
            "cesql, got none"
        },
    ),
    (
        "two dialects",
        spec(filters=[{"exact": {"type": "a"}, "prefix": {"type": "b"}}]),
        {"spec.filters[0]": "multiple dialects found (exact, prefix); a filter can have only one"},
    ),
    (
        "unknown dialect",
        spec(filters=[{"regex": {"type": ".*"}}]),
        {
            "spec.filters[0].regex": "unknown field; expected one of exact, prefix, suffix, "
            "all, any, not, cesql"
        },
    ),
    (
        "exact empty map",
        spec(filters=[{"exact": {}}]),
        {"spec.filters[0].exact": "must not be empty"},
    ),
    (
        "exact two attributes",
        spec(filters=[{"exact": {"type": "a", "source": "b"}}]),
        {"spec.filters[0].exact": "multiple attributes found (type, source)"},
    ),
    (
        "prefix empty value",
        spec(filters=[{"prefix": {"type": ""}}]),
        {"spec.filters[0].prefix[type]": "must not be empty"},
    ),
    (
        "suffix bad name",
        spec(filters=[{"suffix": {"Type": "x"}}]),
        {"spec.filters[0].suffix[Type]": "invalid attribute name 'Type'"},
    ),
    (
        "suffix not a map",
        spec(filters=[{"suffix": "x"}]),
        {"spec.filters[0].suffix": "expected a mapping, got a string"},
    ),
    (
        "exact value not a string",
        spec(filters=[{"exact": {"retries": 1}}]),
        {"spec.filters[0].exact[retries]": "expected a string, got a number (quote it in YAML)"},
    ),
    (
        "all empty",
        spec(filters=[{"all": []}]),
        {"spec.filters[0].all": "must be a non-empty list of filters"},
    ),
    (
        "any not a list",
        spec(filters=[{"any": {"exact": {"type": "x"}}}]),
        {"spec.filters[0].any": "expected a list, got a mapping"},
    ),
    (
        "nested errors keep their paths",
        spec(
            filters=[
                {"exact": {"type": "ok"}},
                {"all": [{"exact": {"type": "ok"}}, {"any": [{"not": {"prefix": {"A": "x"}}}]}]},
            ]
        ),
        {"spec.filters[1].all[1].any[0].not.prefix[A]": "invalid attribute name 'A'"},
    ),
    (
        "not without a filter",
        spec(filters=[{"not": None}]),
        {"spec.filters[0]": "expected exactly one of"},  # a null field is an absent one
    ),
    (
        "cesql that does not parse",
        spec(filters=[{"cesql": "type = = 'x'"}]),
        {"spec.filters[0].cesql": "found '=' at 1:8"},
    ),
    (
        "nested empty cesql",
        spec(filters=[{"any": [{"cesql": " "}]}]),
        {"spec.filters[0].any[0].cesql": "must be a non-empty CloudEvents SQL expression"},
    ),
    (
        "bad delivery",
        spec(delivery={"retry": -1, "backoffDelay": "P1M"}),
        {
            "spec.delivery.retry": "invalid value -1: must be greater than or equal to 0",
            "spec.delivery.backoffDelay": "months are ambiguous",
        },
    ),
    (
        "several problems at once",
        {"filter": {"attributes": {"SOURCE": "x"}}, "filters": [{"cesql": "x ="}]},
        {
            "spec.broker": "required field is missing",
            "spec.subscriber": "required field is missing",
            "spec.filter.attributes[SOURCE]": "invalid attribute name",
            "spec.filters[0].cesql": "invalid CloudEvents SQL expression",
        },
    ),
]


@pytest.mark.parametrize(
    ("spec_", "expected"),
    [pytest.param(s, e, id=name) for name, s, e in INVALID_SPECS],
)
def test_invalid_triggers(spec_: dict[str, Any], expected: dict[str, str]) -> None:
    errors = field_errors(lambda: eventing.parse_trigger(trigger_obj(spec_)))
    assert set(errors) == set(expected), errors
    for path, fragment in expected.items():
        assert fragment in errors[path], (path, errors[path])


def test_too_deep_nesting_is_rejected_without_recursion_errors() -> None:
    nested: dict[str, Any] = {"exact": {"type": "x"}}
    for _ in range(200):
        nested = {"not": nested}
    errors = field_errors(lambda: eventing.parse_trigger(trigger_obj(spec(filters=[nested]))))
    ((path, message),) = errors.items()
    assert path.startswith("spec.filters[0].not.not")
    assert "nested too deeply" in message


VALID_FILTERS: list[Any] = [
    [],
    [{"exact": {"type": "a"}}],
    [{"prefix": {"source": "/a"}}, {"suffix": {"subject": ".png"}}],
    [{"all": [{"exact": {"type": "a"}}]}],
    [{"any": [{"exact": {"type": "a"}}, {"not": {"exact": {"type": "b"}}}]}],
    [{"not": {"all": [{"any": [{"exact": {"x1": "1"}}]}]}}],
]


@pytest.mark.parametrize("filters", VALID_FILTERS)
def test_valid_filters(filters: Any) -> None:
    parsed = eventing.parse_trigger(trigger_obj(spec(filters=filters)))
    assert [f.as_dict() for f in parsed.spec.filters] == filters


def test_other_object_level_errors() -> None:
    obj = trigger_obj(name="Bad_Name")
    obj["apiVersion"] = "eventing.knative.dev/v2"
    obj["kind"] = "Trigge"
    errors = field_errors(lambda: eventing.parse_trigger(obj))
    assert set(errors) == {"apiVersion", "kind", "metadata.name"}
    assert errors["apiVersion"] == (
        "expected one of eventing.knative.dev/v1, eventing.knative.dev/v1alpha1, "
        "got 'eventing.knative.dev/v2'"
    )
    missing_spec = trigger_obj()
    del missing_spec["spec"]
    assert field_errors(lambda: eventing.parse_trigger(missing_spec)) == {
        "spec": "required field is missing"
    }


def test_error_subject_names_the_trigger() -> None:
    with pytest.raises(ValidationError) as info:
        eventing.validate_trigger(trigger_obj({"subscriber": SUB}, namespace="ns2", name="t2"))
    assert info.value.subject == "Trigger ns2/t2"
    assert str(info.value) == "Trigger ns2/t2 is invalid: spec.broker: required field is missing"


def test_dependency_and_injection_annotations() -> None:
    dep = json.dumps({"kind": "PingSource", "name": "p", "apiVersion": "sources.knative.dev/v1"})
    eventing.parse_trigger(trigger_obj(annotations={"knative.dev/dependency": dep}))
    eventing.parse_trigger(trigger_obj(annotations={"eventing.knative.dev/injection": "enabled"}))
    bad = trigger_obj(
        spec(broker="other"),
        annotations={
            "knative.dev/dependency": json.dumps({"kind": "PingSource", "namespace": "x"}),
            "eventing.knative.dev/injection": "enabled",
        },
    )
    errors = field_errors(lambda: eventing.parse_trigger(bad))
    assert errors == {
        "metadata.annotations[knative.dev/dependency].name": "required field is missing",
        "metadata.annotations[knative.dev/dependency].apiVersion": "required field is missing",
        "metadata.annotations[knative.dev/dependency].namespace": "must be empty or equal to "
        "the trigger namespace 'default'",
        "metadata.annotations[eventing.knative.dev/injection]": "only applies to the default "
        "broker, but spec.broker is 'other'",
    }
    not_json = trigger_obj(annotations={"knative.dev/dependency": "{oops"})
    assert list(field_errors(lambda: eventing.parse_trigger(not_json))) == [
        "metadata.annotations[knative.dev/dependency]"
    ]


def test_spec_broker_is_immutable() -> None:
    old = eventing.default_trigger(trigger_obj())
    eventing.validate_trigger_update(old, trigger_obj(spec(filter={"attributes": {"type": "x"}})))
    errors = field_errors(
        lambda: eventing.validate_trigger_update(old, trigger_obj(spec(broker="b2")))
    )
    assert list(errors) == ["spec.broker"]
    assert errors["spec.broker"].startswith("immutable field changed from 'default' to 'b2'")


def test_v1alpha1_update_without_broker_keeps_the_default() -> None:
    old = trigger_obj({"subscriber": SUB})
    old["apiVersion"] = "eventing.knative.dev/v1alpha1"
    eventing.validate_trigger_update(eventing.default_trigger(old), old)


def test_effective_delivery() -> None:
    own = eventing.parse_trigger(trigger_obj(spec(delivery={"retry": 1})))
    bare = eventing.parse_trigger(trigger_obj())
    configured = eventing.parse_broker(broker_obj({"delivery": {"retry": 5}}))
    plain = eventing.parse_broker(broker_obj())
    assert eventing.effective_delivery(own, configured) == DeliverySpec(retry=1)
    assert eventing.effective_delivery(bare, configured) == DeliverySpec(retry=5)
    assert eventing.effective_delivery(bare, plain) is BROKER_DEFAULT_DELIVERY
    assert eventing.effective_delivery(bare, None) is BROKER_DEFAULT_DELIVERY


def test_trigger_status_lifecycle() -> None:
    conditions = eventing.TRIGGER_CONDITIONS
    clock, status = FakeClock(), new_status()
    conditions.initialize(status, clock=clock)
    eventing.mark_broker_missing(status, "default", clock=clock)
    ready = conditions.get(status, "Ready")
    assert ready is not None
    assert (ready.status, ready.reason, ready.message) == (
        "False",
        "BrokerDoesNotExist",
        'Broker "default" does not exist',
    )
    eventing.propagate_broker_condition(status, None, clock=clock)
    broker_ready = conditions.get(status, "BrokerReady")
    assert broker_ready is not None
    assert broker_ready.reason == "BrokerNotConfigured"
    eventing.propagate_broker_condition(status, Condition("Ready", "True"), clock=clock)
    eventing.mark_subscriber_unresolved(status, "Unresolvable", "no such service", clock=clock)
    assert status["subscriberUri"] == ""
    assert not conditions.is_ready(status)
    eventing.mark_subscriber_resolved(status, "http://display.default.svc/", clock=clock)
    assert status["subscriberUri"] == "http://display.default.svc/"
    conditions.mark_true(status, trigger_module.DEPENDENCY_READY, clock=clock)
    assert not conditions.is_ready(status)
    duck.mark_dead_letter_sink_not_configured(conditions, status, clock=clock)
    assert not conditions.is_ready(status)  # the OIDC identity is a condition too
    trigger_module.mark_oidc_identity(status, None, clock=clock)
    assert conditions.is_ready(status)
    assert [c["type"] for c in status["conditions"]] == [
        "BrokerReady",
        "DeadLetterSinkResolved",
        "DependencyReady",
        "OIDCIdentityCreated",
        "Ready",
        "SubscriberResolved",
    ]


def test_a_too_deep_cesql_filter_is_refused_at_admission() -> None:
    spec_ = {
        "broker": "default",
        "subscriber": {"uri": "http://example.com/"},
        "filters": [{"cesql": "(" * 3000 + "TRUE" + ")" * 3000}],
    }
    errors = field_errors(lambda: eventing.parse_trigger(trigger_obj(spec_)))
    assert "too deeply" in errors["spec.filters[0].cesql"]


def test_ready_since_is_kept_while_ready_to_the_microsecond() -> None:
    clock = FakeClock()
    status = new_status()
    for condition in eventing.TRIGGER_CONDITIONS.dependents:
        eventing.TRIGGER_CONDITIONS.mark_true(status, condition, clock=clock)
    trigger_module.record_ready_since(status, clock=clock)
    first = status["annotations"][trigger_module.READY_SINCE_ANNOTATION]
    assert first == clock().isoformat(timespec="microseconds")
    clock.advance(5.25)
    trigger_module.record_ready_since(status, clock=clock)  # still Ready: unchanged
    assert status["annotations"][trigger_module.READY_SINCE_ANNOTATION] == first
    eventing.mark_broker_missing(status, "b", clock=clock)
    trigger_module.record_ready_since(status, clock=clock)
    assert "annotations" not in status
