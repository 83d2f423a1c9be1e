"""Explaining a CESQL expression: the part that was false or failed, and what it read."""

from __future__ import annotations

import pytest

from kawa.cesql import CesqlParseError, compile_expression
from kawa.cesql import explain as cesql_explain
from kawa.cesql.explain import attribute_names, explain, literal
from kawa.cesql.syntax import Binary, Unary, parse
from kawa.cloudevents import CloudEvent

EVENT = CloudEvent(
    {
        "specversion": "1.0",
        "id": "1",
        "source": "/orders/17",
        "type": "com.example.order.created",
        "subject": "bob",
        "amount": "50",
        "exint": 42,
        "exbool": True,
        "exbinary": bytes([0, 1, 2, 3]),
    }
)


def test_nodes_know_their_text() -> None:
    text = "NOT (type = 'a')  AND UPPER(subject) LIKE 'B%' OR -exint IN (1, 2)"
    root = parse(text)
    start, end = root.span
    assert text[start:end] == text
    assert root == parse(" ".join(text.split()))  # spans are not part of equality
    assert isinstance(root, Binary)
    left = root.left
    assert isinstance(left, Binary)
    assert text[slice(*left.span)] == "NOT (type = 'a')  AND UPPER(subject) LIKE 'B%'"
    negation = left.left
    assert isinstance(negation, Unary)
    assert text[slice(*negation.span)] == "NOT (type = 'a')"
    assert text[slice(*negation.operand.span)] == "type = 'a'"  # without the parentheses
    assert text[slice(*root.right.span)] == "-exint IN (1, 2)"


def test_a_true_expression_has_no_part() -> None:
    explained = explain("type LIKE 'com.example.%' AND exint > 10", EVENT)
    assert explained.matched
    assert (explained.value, explained.error, explained.part) == (True, None, "")
    assert explained.reason() == ""


def test_the_first_false_operand_of_an_and_chain() -> None:
    explained = explain("type = 'com.example.order.created' AND INT(amount) >= 100", EVENT)
    assert not explained.matched
    assert explained.part == "INT(amount) >= 100"
    assert explained.part_value is False
    assert explained.reads == (("amount", "50"),)
    assert explained.reason() == "`INT(amount) >= 100` is false"


def test_nested_and_chains_are_followed_down() -> None:
    text = "EXISTS subject AND (exint = 42 AND (source LIKE '/users/%' AND exbool))"
    explained = explain(text, EVENT)
    assert explained.part == "source LIKE '/users/%'"
    assert explained.reads == (("source", "/orders/17"),)


def test_or_and_not_are_named_whole() -> None:
    either = explain("subject = 'alice' OR subject = 'carol'", EVENT)
    assert either.part == "subject = 'alice' OR subject = 'carol'"
    assert either.reads == (("subject", "bob"),)
    negated = explain("exint > 1 AND NOT (subject = 'bob')", EVENT)
    assert negated.part == "NOT (subject = 'bob')"
    assert negated.reason() == "`NOT (subject = 'bob')` is false"


def test_an_error_names_the_failing_part_and_the_error() -> None:
    cast = explain("type = 'com.example.order.created' AND INT(subject) > 1", EVENT)
    assert not cast.matched
    assert cast.error is not None
    assert cast.error.kind == "cast"
    assert cast.part == "INT(subject)"
    assert cast.part_value is None
    assert cast.reads == (("subject", "bob"),)
    assert cast.reason() == "cast error in `INT(subject)`: cannot cast String 'bob' to Integer"


def test_a_missing_attribute_is_shown_with_the_expression_reading_it() -> None:
    missing = explain("exint > 1 AND region = 'eu'", EVENT)
    assert missing.error is not None
    assert missing.error.kind == "missingAttribute"
    assert missing.part == "region = 'eu'"
    assert missing.reads == (("region", None),)
    assert missing.value is False


def test_other_errors() -> None:
    math = explain("exint / (exint - 42) = 1", EVENT)
    assert math.error is not None
    assert math.error.kind == "math"
    assert math.part == "exint / (exint - 42)"
    left = explain("LEFT('abc', -2)", EVENT)  # the function's value survives the error
    assert (left.value, left.part) == ("abc", "LEFT('abc', -2)")
    assert left.error is not None
    assert left.error.kind == "functionEvaluation"
    nope = explain("exint > 1 AND NOPE(subject)", EVENT)
    assert nope.error is not None
    assert nope.error.kind == "missingFunction"
    assert nope.part == "NOPE(subject)"
    boolean = explain("subject AND TRUE", EVENT)  # 'bob' is no Boolean: the AND failed
    assert boolean.error is not None
    assert boolean.error.kind == "cast"
    assert boolean.part == "subject AND TRUE"


def test_a_value_that_is_not_boolean() -> None:
    explained = explain("exint + 1", EVENT)
    assert not explained.matched
    assert (explained.part, explained.part_value) == ("exint + 1", 43)
    assert explained.reason() == "`exint + 1` is Integer 43, not true"
    assert explain("'true'", EVENT).reason() == "`'true'` is String 'true', not true"


def test_reads_keep_the_attribute_types() -> None:
    explained = explain("exint = 1 AND exbool", EVENT)
    assert explained.reads == (("exint", 42),)
    binary = explain("exbinary = 'x' AND exbool = FALSE", EVENT)
    assert binary.reads == (("exbinary", "AAECAw=="),)


def test_long_chains_do_not_exhaust_the_stack() -> None:
    text = " AND ".join(["exint = 42"] * 2000 + ["subject = 'x'"])
    explained = explain(text, EVENT)
    assert explained.part == "subject = 'x'"
    assert explain(" OR ".join(["exint = 1"] * 2000), EVENT).part_value is False


def test_whatever_compiles_is_explained_at_any_depth() -> None:
    for depth in range(50, 400, 25):
        text = "NOT " * depth + "(exint = 42)"
        try:
            expression = compile_expression(text)
        except CesqlParseError:
            continue  # admission refuses it: no Trigger has it
        explained = explain(text, EVENT)
        assert explained.matched is expression.matches(EVENT), depth


def test_too_deep_for_the_walker_the_compiled_evaluator_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def too_deep(self: object, node: object) -> object:
        raise RecursionError

    monkeypatch.setattr(cesql_explain._Trace, "walk", too_deep)
    false = explain("exint = 1", EVENT)
    assert (false.matched, false.value, false.error, false.part) == (
        False,
        False,
        None,
        "exint = 1",
    )
    true = explain("exint = 42", EVENT)
    assert true.matched
    assert true.part == ""


def test_helpers() -> None:
    assert literal("it's") == "'it''s'"
    assert literal(True) == "TRUE"
    assert literal(-3) == "-3"
    assert attribute_names("a = 1 AND (EXISTS b OR UPPER(c) IN (a, d))") == ["a", "b", "c", "d"]
    assert attribute_names("a = = 1") == []
    with pytest.raises(CesqlParseError):
        explain("a = = 1", EVENT)
