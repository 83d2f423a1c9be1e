"""kawa's data filter (``kawa.dev/data``): conditions parsed with errors that name the line,
compiled once, evaluated on the event's JSON data (numbers with numbers, strings with
strings, booleans only equal to booleans, a path alone for "exists", JSONPath filters);
data that is not JSON passes nothing; a Trigger with a bad annotation is refused naming it."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from kawa.apis.eventing import data_filter as api
from kawa.apis.eventing.trigger import parse_trigger
from kawa.cloudevents.event import CloudEvent
from kawa.errors import ValidationError
from kawa.filters.data import data_filter
from kawa.filters.explain import explain_trigger

ORDER = {
    "order": {"total": 150, "currency": "EUR", "express": True, "note": None},
    "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 3}],
}


def passes(text: str, data: Any = ORDER, content_type: str | None = None) -> bool:
    attributes: dict[str, Any] = {"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}
    if content_type is not None:
        attributes["datacontenttype"] = content_type
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    return data_filter(api.parse_conditions(text))(CloudEvent(attributes, body))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$.order.total > 100", True),
        ("$.order.total >= 150", True),
        ("$.order.total < 100", False),
        ('$.order.currency == "EUR"', True),
        ('$.order.currency != "EUR"', False),
        ('$.order.currency > "A"', True),
        ('$.order.total > "100"', False),  # a number and a string do not compare
        ("$.order.express == true", True),
        ("$.order.express == 1", False),  # JSON's true is not 1
        ("$.order.note == null", True),
        ("$.order.coupon", False),  # exists
        ("$.order.currency", True),
        ("$.items[?(@.qty > 2)]", True),
        ('$.items[*].sku == "b"', True),  # one of the values found is enough
        ('$.order.total > 100\n$.order.currency == "USD"', False),  # every line must hold
        ("# a comment\n\n$.order.total > 100", True),
    ],
)
def test_conditions(text: str, expected: bool) -> None:
    assert passes(text) is expected


def test_data_that_is_not_json_passes_nothing() -> None:
    assert not passes("$.order", b"not json")
    assert not passes("$.order", ORDER, content_type="text/plain")
    assert passes("$.order", ORDER, content_type="application/vnd.kawa+json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("order.total > 1", "line 1 ('order.total > 1'): a condition starts with a JSONPath"),
        ("$.a >", "line 1 ('$.a >'): after >, expected a JSON literal"),
        ("$.a > [1]", "line 1 ('$.a > [1]'): compare with a number"),
        ("$.a\n$..[", "line 2 ('$..['): not a JSONPath"),
        ("", "expected at least one condition"),
    ],
)
def test_bad_conditions_say_which_line_and_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^" + re.escape(message)):
        api.parse_conditions(text)


def test_a_trigger_with_a_bad_data_filter_is_refused_at_its_annotation() -> None:
    trigger = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": "t", "namespace": "default", "annotations": {api.ANNOTATION: "$.a >"}},
        "spec": {"broker": "default", "subscriber": {"uri": "http://s/"}},
    }
    with pytest.raises(ValidationError) as caught:
        parse_trigger(trigger)
    assert "metadata.annotations[kawa.dev/data]" in str(caught.value)


def test_kawa_why_names_the_condition_that_does_not_hold() -> None:
    trigger = parse_trigger(
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {
                "name": "t",
                "namespace": "default",
                "annotations": {api.ANNOTATION: '$.order.total > 100\n$.order.currency == "USD"'},
            },
            "spec": {"broker": "default", "subscriber": {"uri": "http://s/"}},
        }
    )
    attributes = {"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}
    explained = explain_trigger(trigger, CloudEvent(dict(attributes), orjson.dumps(ORDER)))
    assert not explained.matched
    assert explained.filters == "metadata.annotations[kawa.dev/data]"
    assert explained.rejection is not None
    assert explained.rejection.reason == (
        'the condition $.order.currency == "USD" does not hold on the event\'s data'
    )
    usd = {"order": {"total": 150, "currency": "USD"}}
    assert explain_trigger(trigger, CloudEvent(dict(attributes), orjson.dumps(usd))).matched
    text = explain_trigger(trigger, CloudEvent(dict(attributes), b"x")).rejection
    assert text is not None
    assert text.reason == "the event's data is not valid JSON"
