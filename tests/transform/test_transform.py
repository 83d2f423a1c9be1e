"""JSONata over whole CloudEvents (kawa.transform): what an expression sees, what it must
yield, and the clear errors of an expression that does not parse, fails on an event, runs
away, or yields no valid CloudEvent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kawa import transform
from kawa.cloudevents.event import CloudEvent
from kawa.transform import expression as expression_module

EVENT = CloudEvent(
    {
        "specversion": "1.0",
        "id": "42",
        "source": "/orders",
        "type": "order.created",
        "time": "2025-01-02T03:04:05Z",
        "datacontenttype": "application/json",
        "tenant": "acme",
    },
    b'{"user": {"id": "u-7", "fullName": "Ada"}, "items": [1, 2]}',
)


def run(text: str, event: CloudEvent = EVENT) -> CloudEvent:
    return transform.apply(transform.compile_expression(text), event)


def test_the_input_is_the_whole_event_in_the_json_format() -> None:
    seen = transform.compile_expression("$").evaluate(transform.event_input(EVENT))
    assert seen == {
        "specversion": "1.0",
        "id": "42",
        "source": "/orders",
        "type": "order.created",
        "time": "2025-01-02T03:04:05Z",
        "datacontenttype": "application/json",
        "tenant": "acme",
        "data": {"user": {"id": "u-7", "fullName": "Ada"}, "items": [1, 2]},
    }
    binary = CloudEvent({**EVENT.attributes, "datacontenttype": "image/png"}, b"\x89PNG")
    assert transform.event_input(binary)["data_base64"] == "iVBORw=="


def test_knatives_field_extraction_promotes_a_data_field_to_an_attribute() -> None:
    out = run(
        '{"specversion": "1.0", "id": id, "type": "user.extracted",'
        ' "source": "transform.user-extractor", "time": time, "userid": data.user.id,'
        ' "data": $}'
    )
    assert out.type == "user.extracted"
    assert out.get("userid") == "u-7"
    assert out.get("time") == "2025-01-02T03:04:05Z"
    assert out.datacontenttype is None  # the expression did not keep it: JSON data
    assert out.data is not None
    assert json.loads(out.data)["data"]["user"]["id"] == "u-7"  # data: the whole input


def test_an_absent_input_attribute_is_left_out_of_the_output() -> None:
    untimed = CloudEvent({k: v for k, v in EVENT.attributes.items() if k != "time"}, EVENT.data)
    out = run(
        '{"specversion": "1.0", "id": id, "type": type, "source": source, "time": time}', untimed
    )
    assert out.get("time") is None
    assert out.data is None


def test_text_data_stays_text_with_its_content_type() -> None:
    text = CloudEvent({**EVENT.attributes, "datacontenttype": "text/plain"}, b"hello")
    out = run('$merge([$, {"data": $uppercase(data)}])', text)
    assert (out.datacontenttype, out.data) == ("text/plain", b"HELLO")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2]", "the expression yielded an array, not an event (a JSON object)"),
        ("nothing", "the expression yielded nothing, not an event"),
        ('"x"', "the expression yielded a string, not an event (a JSON object)"),
        ("function($x) { $x }", "the expression yielded a function, not an event"),
        (
            '{"specversion": "1.0", "id": 7, "source": "s"}',
            "the expression's result is not a valid CloudEvent: id: must be a string (got "
            "int); type: required",
        ),
        (
            '$merge([$, {"Bad_Name": 1}])',
            "Bad_Name: attribute names must consist of lowercase letters a-z and digits 0-9",
        ),
        ('$merge([$, {"f": function() { 1 }}])', "the expression's result is not JSON data"),
    ],
)
def test_a_result_that_is_no_valid_cloudevent_says_why(text: str, expected: str) -> None:
    with pytest.raises(transform.TransformError) as caught:
        run(text)
    assert caught.value.reason == "NotACloudEvent"
    assert expected in caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$number(data.user.id)", "ValueError"),
        ("data.user.id + 1", "The left side of the + operator must evaluate to a number"),
        ("$undefinedfunction()", "Attempted to invoke a non-function"),
        (
            "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))",
            "Stack overflow",
        ),
    ],
)
def test_an_expression_that_fails_on_the_event_says_why(text: str, expected: str) -> None:
    with pytest.raises(transform.TransformError) as caught:
        run(text)
    assert caught.value.reason == "EvaluationFailed"
    assert expected in caught.value.message


def test_an_expression_that_never_ends_fails_within_its_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(expression_module, "MAX_SECONDS", 0.05)
    forever = transform.compile_expression("($f := function() { $f() }; $f())")
    for _ in range(2):  # each evaluation has its own time, counted from its start
        with pytest.raises(transform.EvaluationError, match="D1012"):
            forever.evaluate({})
    assert transform.compile_expression("id").evaluate({"id": "1"}) == "1"


def test_a_compiled_expression_is_reused_across_events() -> None:
    compiled = transform.compile_expression('$merge([$, {"seen": "yes"}])')
    for n in range(3):
        event = EVENT.with_attributes(id=str(n))
        out = transform.apply(compiled, event)
        assert (out.id, out.get("seen")) == (str(n), "yes")


@pytest.mark.parametrize(
    ("text", "message", "position", "code"),
    [
        ('{ "a": ', "Expected } before end of expression", 7, "S0203"),
        ("a.b]", "Syntax error: ]", 4, "S0201"),
        ("# only a comment\n  # and another", "the expression is empty", -1, ""),
        ('# comment\n{ "a": ', "Expected } before end of expression", 17, "S0203"),
        ("  ", "the expression is empty", -1, ""),
    ],
)
def test_an_expression_that_does_not_parse_says_where(
    text: str, message: str, position: int, code: str
) -> None:
    with pytest.raises(transform.ExpressionError) as caught:
        transform.compile_expression(text)
    assert (caught.value.message, caught.value.position, caught.value.code) == (
        message,
        position,
        code,
    )
    if position >= 0:
        assert str(caught.value) == f"{message} at position {position} (JSONata {code})"


def test_lines_starting_with_a_hash_are_comments() -> None:
    """As Knative's documented examples write them (JSONata itself has only /* */); a ``#``
    inside a string is kept, and positions still point into the text as written."""
    text = '# Request transformation\n  # indented too\n$merge([$, {"tag": "#1"}])'
    out = transform.apply(transform.compile_expression(text), EVENT)
    assert out.get("tag") == "#1"


def test_importing_the_transform_core_keeps_pythons_recursion_limit() -> None:
    """jsonata-python raises the process's recursion limit to 10,000 on import; kawa puts it
    back (the CESQL parser refuses too deep input by it, in the same process)."""
    code = (
        "import sys; before = sys.getrecursionlimit(); import kawa.transform; "
        "assert sys.getrecursionlimit() == before, sys.getrecursionlimit()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    ("expression", "literal"),
    [
        ('{"specversion": "1.0", "id": id, "type": "order.done"}', "order.done"),
        ('# a comment line\n{"type": "x", "source": source}', "x"),
        ('{"type": type & ".done"}', None),  # computed
        ('{"type": 3}', None),  # not a string
        ("$", None),  # not an object constructor
        ('{"id": id}', None),  # not set
    ],
)
def test_the_literal_type_an_expression_sets(expression: str, literal: str | None) -> None:
    assert transform.compile_expression(expression).literal_field("type") == literal
