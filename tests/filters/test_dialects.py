from __future__ import annotations

import pytest

from kawa.cloudevents import CloudEvent
from kawa.filters.all import all_filter
from kawa.filters.any import any_filter
from kawa.filters.attributes import attributes_filter
from kawa.filters.base import Filter, match_all, string_form
from kawa.filters.exact import exact_filter
from kawa.filters.not_ import not_filter
from kawa.filters.prefix import prefix_filter
from kawa.filters.suffix import suffix_filter

from .events import event

YES: Filter = match_all


def no(event: CloudEvent) -> bool:
    return False


def test_string_forms() -> None:
    assert string_form("x") == "x"
    assert string_form(True) == "true"
    assert string_form(False) == "false"
    assert string_form(42) == "42"
    assert string_form(-7) == "-7"
    assert string_form(b"\x01\x02") == "AQI="


@pytest.mark.parametrize(
    ("attributes", "ev", "expected"),
    [
        ({}, event(), True),
        ({"type": "dev.knative.example"}, event(), True),
        ({"type": "dev.knative.Example"}, event(), False),  # case-sensitive
        ({"type": "dev.knative"}, event(), False),  # exact, not prefix
        ({"type": ""}, event(), True),  # "" = any value
        ({"subject": ""}, event(), False),  # ... but the attribute must exist
        ({"subject": ""}, event(subject="s"), True),
        ({"subject": ""}, event(subject=""), False),  # ... and be non-empty
        ({"type": "dev.knative.example", "source": "/src"}, event(), True),
        ({"type": "dev.knative.example", "source": "/other"}, event(), False),  # ANDed
        ({"myext": "v"}, event(), False),
        ({"myext": "v"}, event(myext="v"), True),
        ({"count": "5"}, event(count=5), True),
        ({"flag": "true"}, event(flag=True), True),
        ({"flag": "True"}, event(flag=True), False),
        ({"blob": "AQI="}, event(blob=b"\x01\x02"), True),
        ({"blob": ""}, event(blob=b""), False),
    ],
)
def test_attributes(attributes: dict[str, str], ev: CloudEvent, expected: bool) -> None:
    assert attributes_filter(attributes)(ev) is expected


def test_knative_virtual_attributes() -> None:
    ev = event(datacontenttype="application/json; charset=utf-8", dataschema="http://s/1")
    assert attributes_filter({"datamediatype": "application/json"})(ev)
    assert not attributes_filter({"datamediatype": "application/json"})(event())
    assert attributes_filter({"schemaurl": "http://s/1"})(ev)
    legacy = event(specversion="0.3", schemaurl="http://s/0")
    assert exact_filter({"dataschema": "http://s/0"})(legacy)
    assert prefix_filter({"schemaurl": "http://s/"})(legacy)


@pytest.mark.parametrize(
    ("make", "entries", "ev", "expected"),
    [
        (exact_filter, {"type": "dev.knative.example"}, event(), True),
        (exact_filter, {"type": "dev.knative"}, event(), False),
        (exact_filter, {"subject": "x"}, event(), False),
        (exact_filter, {"count": "5"}, event(count=5), True),
        (exact_filter, {"flag": "false"}, event(flag=False), True),
        (exact_filter, {"type": "dev.knative.example", "source": "/x"}, event(), False),
        (prefix_filter, {"type": "dev.knative."}, event(), True),
        (prefix_filter, {"type": "Dev.knative."}, event(), False),
        (prefix_filter, {"type": "dev.knative.example.more"}, event(), False),
        (prefix_filter, {"subject": "a"}, event(), False),
        (prefix_filter, {"count": "12"}, event(count=123), True),
        (prefix_filter, {"type": "dev", "source": "/s"}, event(), True),
        (prefix_filter, {"type": "dev", "source": "/x"}, event(), False),
        (suffix_filter, {"type": ".example"}, event(), True),
        (suffix_filter, {"type": ".Example"}, event(), False),
        (suffix_filter, {"subject": ".png"}, event(subject="cat.png"), True),
        (suffix_filter, {"subject": ".png"}, event(), False),
        (suffix_filter, {"flag": "ue"}, event(flag=True), True),
    ],
)
def test_map_dialects(
    make: object, entries: dict[str, str], ev: CloudEvent, expected: bool
) -> None:
    assert callable(make)
    compiled = make(entries)
    assert compiled(ev) is expected


def test_all_any_not() -> None:
    ev = event()
    assert all_filter([])(ev) is True
    assert all_filter([YES])(ev) is True
    assert all_filter([YES, no])(ev) is False
    assert all_filter([YES, YES, YES])(ev) is True
    assert all_filter([YES, YES, no])(ev) is False
    assert any_filter([])(ev) is False
    assert any_filter([no])(ev) is False
    assert any_filter([no, YES])(ev) is True
    assert any_filter([no, no, no])(ev) is False
    assert not_filter(YES)(ev) is False
    assert not_filter(no)(ev) is True


def test_all_and_any_short_circuit() -> None:
    calls: list[str] = []

    def spy(name: str, result: bool) -> Filter:
        def f(event: CloudEvent) -> bool:
            calls.append(name)
            return result

        return f

    all_filter([spy("a", False), spy("b", True), spy("c", True)])(event())
    any_filter([spy("d", True), spy("e", False), spy("f", False)])(event())
    assert calls == ["a", "d"]
