"""EventTransform (eventing.knative.dev/v1alpha1): served as Knative's, its documented
examples admitted, and a bad spec refused with every problem at its field path: an expression
that does not parse (with the parser's position and message), a reply without a sink, a
reply both transformed and discarded, no transformation at all."""

from __future__ import annotations

from typing import Any

import pytest

from kawa.apis.conditions import get_condition
from kawa.apis.eventing import eventtransform
from kawa.apis.registry import SCHEME
from kawa.errors import ValidationError

from .helpers import FakeClock

SERVICE_SINK = {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "svc"}}
ENRICHMENT = """{
  "specversion": "1.0",
  "id": id,                     /* the input's own attributes */
  "type": type,
  "source": source,
  "time": time,
  "environment": "production",  /* fixed attributes */
  "region": "us-west-1",
  "data": $                     /* the whole input as data */
}
"""


def transform(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "EventTransform",
        "metadata": {"name": "t", "namespace": "team"},
        "spec": spec,
    }


def errors_of(obj: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        SCHEME.validate(SCHEME.default(obj))
    return {e.path: e.message for e in caught.value.errors}


def test_the_kind_is_served_as_knatives() -> None:
    rk = SCHEME.resolve("eventtransforms")
    assert rk is SCHEME.resolve("EventTransform") is SCHEME.resolve("eventtransform")
    assert rk.api_versions == ("eventing.knative.dev/v1alpha1",)
    assert [c.name for c in rk.printer_columns] == ["URL", "Sink", "Ready", "Reason"]
    assert set(rk.categories) == {"all", "knative", "eventing"}


@pytest.mark.parametrize(
    "spec",
    [
        {"jsonata": {"expression": ENRICHMENT}},
        {"sink": SERVICE_SINK, "jsonata": {"expression": "$"}},
        {"sink": SERVICE_SINK, "jsonata": {"expression": "$"}, "reply": {"discard": True}},
        {
            "sink": {"uri": "http://example.com/"},
            "jsonata": {"expression": "$"},
            "reply": {"jsonata": {"expression": '$merge([$, {"type": "reply"}])'}},
        },
    ],
)
def test_knatives_examples_are_admitted(spec: dict[str, Any]) -> None:
    parsed = eventtransform.parse_eventtransform(SCHEME.default(transform(**spec)))
    assert parsed.spec.jsonata is not None


def test_an_expression_that_does_not_parse_is_refused_with_its_position() -> None:
    found = errors_of(
        transform(
            jsonata={"expression": '{ "id": id, '},
            sink=SERVICE_SINK,
            reply={"jsonata": {"expression": "a.b]"}},
        )
    )
    assert found == {
        "spec.jsonata.expression": "invalid JSONata expression: Expected : before end of "
        "expression at position 12 (JSONata S0203)",
        "spec.reply.jsonata.expression": "invalid JSONata expression: Syntax error: ] at "
        "position 4 (JSONata S0201)",
    }


def test_every_rule_across_fields_is_reported() -> None:
    with pytest.raises(ValidationError) as caught:
        SCHEME.validate(
            SCHEME.default(transform(reply={"discard": True, "jsonata": {"expression": "$"}}))
        )
    assert sorted(str(e) for e in caught.value.errors) == [
        "spec.jsonata: required: the transformation (jsonata is the only type there is)",
        "spec.reply: expected exactly one of jsonata or discard: true, got both (a reply is "
        "either transformed or discarded)",
        "spec.reply: reply is set without spec.sink (a reply comes only from a sink)",
    ]


def test_an_empty_expression_is_refused() -> None:
    assert errors_of(transform(jsonata={})) == {
        "spec.jsonata.expression": "invalid JSONata expression: the expression is empty"
    }


def test_the_status_says_whether_the_sink_is_resolved() -> None:
    clock = FakeClock()
    status: dict[str, Any] = {}
    conditions = eventtransform.EVENTTRANSFORM_CONDITIONS
    eventtransform.mark_sink_unresolved(status, "NotFound", "no such Service", clock=clock)
    ready = get_condition(status, "TransformationReady")
    assert ready is not None
    assert (ready.status, ready.reason) == ("False", "NotFound")
    assert ready.message == "the sink cannot be resolved: no such Service"
    eventtransform.mark_sink_resolved(status, "http://sink/", "aud", clock=clock)
    assert (status["sinkUri"], status["sinkAudience"]) == ("http://sink/", "aud")
    assert not conditions.is_ready(status)  # the other conditions are still unknown
    conditions.mark_true(status, "Addressable", clock=clock)
    conditions.mark_true(status, "EventPoliciesReady", clock=clock)
    assert not conditions.is_ready(status)  # its OIDC identity (or the flag off) not known yet
    conditions.mark_true(status, "OIDCIdentityCreated", clock=clock)
    assert conditions.is_ready(status)
