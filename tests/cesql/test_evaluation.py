"""Evaluation tests: LIKE escapes, int32 overflow, short-circuit, casts, errors, matches().

Each runs against the three evaluators: compiled, the AST walker and the explaining walker
(:mod:`kawa.cesql.explain`, whose value and error must be those of the others)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kawa.cesql import Result, compile_expression, evaluate_ast
from kawa.cesql.explain import explain
from kawa.cloudevents import CloudEvent

EVENT = CloudEvent(
    {
        "specversion": "1.0",
        "id": "1",
        "source": "/orders/17",
        "type": "com.example.order.created",
        "exint": 42,
        "exbool": True,
        "exbinary": bytes([0, 1, 2, 3]),
        "exnum": "12",
    }
)

Evaluate = Callable[[str, CloudEvent], Result]


def _compiled(text: str, event: CloudEvent) -> Result:
    return compile_expression(text).evaluate(event)


def _explained(text: str, event: CloudEvent) -> Result:
    explained = explain(text, event)
    return Result(explained.value, () if explained.error is None else (explained.error,))


both = pytest.mark.parametrize(
    "evaluate", [_compiled, evaluate_ast, _explained], ids=["compiled", "ast", "explain"]
)


def _kinds(result: Result) -> list[str]:
    return [e.kind for e in result.errors]


@both
@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("a%b", "a\\%b", True),
        ("axb", "a\\%b", False),
        ("a_b", "a\\_b", True),
        ("axb", "a\\_b", False),
        ("a\\b", "a\\\\b", True),
        ("a\\c", "a\\c", True),
        ("abc", "a\\c", False),
        ("line\nbreak", "line_break", True),
        ("line\nmore\nbreaks", "line%breaks", True),
        ("/orders/1", "/orders/%", True),
        ("x.error", "%.error", True),
        ("pre-mid-post", "pre%post", True),
        ("prepost", "pre%%post", True),
        ("pr", "pre%pre", False),
        ("a.b+c", "%.b+%", True),
        ("(x)", "(_)", True),
        ("", "%", True),
        ("", "_", False),
    ],
)
def test_like_wildcards_and_escapes(
    evaluate: Evaluate, value: str, pattern: str, expected: bool
) -> None:
    event = EVENT.with_attributes(myext=value)
    pattern_literal = pattern.replace("'", "''")
    result = evaluate(f"myext LIKE '{pattern_literal}'", event)
    assert result == Result(expected, ())
    negated = evaluate(f"myext NOT LIKE '{pattern_literal}'", event)
    assert negated == Result(not expected, ())


@both
@pytest.mark.parametrize(
    "text",
    ["2147483647 + 1", "-2147483648 - 1", "65536 * 65536", "-(-2147483648)", "-2147483648 / -1"],
)
def test_int32_overflow_is_a_math_error(evaluate: Evaluate, text: str) -> None:
    result = evaluate(text, EVENT)
    assert _kinds(result) == ["math"]
    assert isinstance(result.value, int)


@both
def test_int32_bounds_are_fine(evaluate: Evaluate) -> None:
    assert evaluate("2147483646 + 1", EVENT) == Result(2147483647, ())
    assert evaluate("-2147483647 - 1", EVENT) == Result(-2147483648, ())


@both
def test_truncated_division_and_modulo(evaluate: Evaluate) -> None:
    assert evaluate("-7 / 2", EVENT).value == -3
    assert evaluate("7 / -2", EVENT).value == -3
    assert evaluate("-7 % 2", EVENT).value == -1
    assert evaluate("7 % -2", EVENT).value == 1


@both
def test_short_circuit_skips_errors_on_the_right(evaluate: Evaluate) -> None:
    assert evaluate("FALSE AND missing", EVENT) == Result(False, ())
    assert evaluate("TRUE OR INT('x') = 1", EVENT) == Result(True, ())
    assert evaluate("exint > 100 AND nope = 1 AND 1 / 0 = 0", EVENT) == Result(False, ())
    assert _kinds(evaluate("exint > 1 AND nope = 1", EVENT)) == ["missingAttribute"]
    assert _kinds(evaluate("FALSE XOR missing", EVENT)) == ["missingAttribute"]


@both
def test_typed_attributes_and_implicit_casts(evaluate: Evaluate) -> None:
    assert evaluate("exint = '42'", EVENT) == Result(True, ())  # 42 cast to String '42'
    assert evaluate("exint = '042'", EVENT) == Result(False, ())  # compared as Strings
    assert evaluate("exint + 1", EVENT) == Result(43, ())
    assert evaluate("exnum > 10", EVENT) == Result(True, ())
    assert evaluate("exbool AND exnum = 12", EVENT) == Result(True, ())
    assert evaluate("exbinary", EVENT) == Result("AAECAw==", ())
    assert evaluate("exbinary = 'AAECAw=='", EVENT) == Result(True, ())
    assert evaluate("exint IN ('41', '42')", EVENT) == Result(True, ())
    assert evaluate("LENGTH(exint)", EVENT) == Result(2, ())
    assert _kinds(evaluate("type + 1", EVENT)) == ["cast"]
    assert _kinds(evaluate("exint IN ('x', 42)", EVENT)) == ["cast"]
    assert evaluate("exint IN (42, 'x')", EVENT) == Result(True, ())


@both
def test_errors_give_the_zero_value_of_the_expression_type(evaluate: Evaluate) -> None:
    assert evaluate("LENGTH(missing)", EVENT).value == 0
    assert evaluate("UPPER(LEFT('abc', -1))", EVENT).value == ""
    assert evaluate("LENGTH(LEFT('abc', -1))", EVENT).value == 0
    assert evaluate("NOPE(1)", EVENT).value is False
    assert _kinds(evaluate("NOPE(1)", EVENT)) == ["missingFunction"]
    assert _kinds(evaluate("ABS(1, 2)", EVENT)) == ["missingFunction"]


@both
def test_functions(evaluate: Evaluate) -> None:
    assert evaluate("SUBSTRING('abcdef', 6)", EVENT).value == "f"
    assert evaluate("SUBSTRING('abcdef', -6, 2)", EVENT).value == "ab"
    assert _kinds(evaluate("SUBSTRING('abcdef', 2, -1)", EVENT)) == ["functionEvaluation"]
    assert evaluate("TRIM('\t a \n')", EVENT).value == "a"
    assert evaluate("CONCAT_WS('-', exint, exbool)", EVENT).value == "42-true"
    assert evaluate("lower(UPPER('MiXeD'))", EVENT).value == "mixed"


def test_matches_is_the_trigger_filter_rule() -> None:
    assert compile_expression("exint > 10").matches(EVENT) is True
    assert compile_expression("exint").matches(EVENT) is False  # Integer, not Boolean
    assert compile_expression("'true'").matches(EVENT) is False  # String, not Boolean
    assert compile_expression("missing = 1 OR TRUE").matches(EVENT) is False  # error
    assert compile_expression("NOT (missing = 1)").matches(EVENT) is False


def test_constant_folding_keeps_errors_at_evaluation() -> None:
    expression = compile_expression("1 / 0 = 0")
    assert _kinds(expression.evaluate(EVENT)) == ["math"]
    assert compile_expression("2 * 3 + 1").evaluate(EVENT) == Result(7, ())
    assert expression.text == "1 / 0 = 0"


def _regex_like(pattern: str, value: str) -> bool:
    import re

    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), value, re.DOTALL) is not None


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab%_\\", max_size=10), st.text(alphabet="ab%_", max_size=12))
def test_like_agrees_with_a_regex(pattern: str, value: str) -> None:
    from kawa.cesql import runtime

    assert runtime.like_matcher(pattern)(value) == _regex_like(pattern, value)


def test_like_with_many_wildcards_is_linear() -> None:
    import time

    from kawa.cesql import runtime

    match = runtime.like_matcher("%a%a%a%a%a%a%a%b")
    started = time.monotonic()
    assert not match("a" * 3000)
    assert match("a" * 3000 + "b")
    assert time.monotonic() - started < 2.0  # a backtracking regex takes minutes here
