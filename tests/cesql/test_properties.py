"""Property tests: whatever the input, only kawa's CESQL errors escape; the evaluators agree.

Arbitrary text goes to the parser; random well-formed expressions (built from the grammar:
literals, attributes, every operator, LIKE, IN, EXISTS and every function with random
arities) go to the evaluators (compiled, AST walker, explaining walker) against random events.
"""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kawa.cesql import CesqlError, CesqlParseError, compile_expression, evaluate_ast
from kawa.cesql.explain import explain
from kawa.cesql.runtime import FUNCTION_NAMES
from kawa.cloudevents import CloudEvent

ATTRIBUTES = ("id", "source", "type", "subject", "exint", "exbool", "exstr", "exbin", "missing")

_string_literal = st.text(alphabet=string.printable, max_size=8).map(
    lambda s: "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"
)
_integer_literal = st.integers(min_value=-(2**31), max_value=2**31 - 1).map(str)
_boolean_literal = st.sampled_from(["TRUE", "FALSE", "true", "False"])
_identifier = st.sampled_from(ATTRIBUTES)
_atom = st.one_of(_string_literal, _integer_literal, _boolean_literal, _identifier)
_pattern = st.lists(
    st.sampled_from(["a", "b", ".", "%", "_", "\\%", "\\_", "\\\\", "''", "\\x"]), max_size=5
).map(lambda parts: "'" + "".join(parts) + "'")
_binary_op = st.sampled_from(
    ["AND", "OR", "XOR", "=", "!=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"]
)
_function = st.sampled_from([*FUNCTION_NAMES, "NOPE"])


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, _binary_op, inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        inner.map(lambda e: f"NOT {e}"),
        inner.map(lambda e: f"- {e}"),
        inner.map(lambda e: f"({e})"),
        st.tuples(inner, st.booleans(), _pattern).map(
            lambda t: f"{t[0]} {'NOT ' if t[1] else ''}LIKE {t[2]}"
        ),
        st.tuples(inner, st.booleans(), st.lists(inner, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]} {'NOT ' if t[1] else ''}IN ({', '.join(t[2])})"
        ),
        _identifier.map(lambda name: f"EXISTS {name}"),
        st.tuples(_function, st.lists(inner, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
    )


EXPRESSIONS = st.recursive(_atom, _extend, max_leaves=12)

_value = st.one_of(
    st.text(max_size=6),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.booleans(),
    st.binary(max_size=4),
)
EVENTS = st.dictionaries(
    st.sampled_from(["subject", "exint", "exbool", "exstr", "exbin"]), _value, max_size=5
).map(
    lambda extra: CloudEvent({"specversion": "1.0", "id": "x", "source": "/s", "type": "t"} | extra)
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_arbitrary_text_raises_only_parse_errors(text: str) -> None:
    event = CloudEvent({"specversion": "1.0", "id": "x", "source": "/s", "type": "t"})
    try:
        expression = compile_expression(text)
    except CesqlParseError:
        return
    for error in expression.evaluate(event).errors:
        assert isinstance(error, CesqlError)
    expression.matches(event)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="()'\"\\-+*/%=<>!, aANDORXTLIKEINSxyz019_\n", max_size=30))
def test_grammar_shaped_noise_raises_only_parse_errors(text: str) -> None:
    try:
        compile_expression(text)
    except CesqlParseError as err:
        error = err
    else:
        return
    assert error.kind == "parse"
    assert error.line >= 1
    assert error.column >= 1


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, EVENTS)
def test_valid_expressions_evaluate_the_same_in_both_evaluators(
    text: str, event: CloudEvent
) -> None:
    expression = compile_expression(text)
    compiled = expression.evaluate(event)
    walked = evaluate_ast(text, event)
    assert type(compiled.value) is type(walked.value)
    assert compiled.value == walked.value
    assert [e.kind for e in compiled.errors] == [e.kind for e in walked.errors]
    assert len(compiled.errors) <= 1
    assert isinstance(compiled.value, bool | int | str)
    if isinstance(compiled.value, int) and not isinstance(compiled.value, bool):
        assert -(2**31) <= compiled.value <= 2**31 - 1
    assert expression.matches(event) is (compiled.value is True and not compiled.errors)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, EVENTS)
def test_the_explanation_agrees_with_the_compiled_evaluator(text: str, event: CloudEvent) -> None:
    expression = compile_expression(text)
    compiled = expression.evaluate(event)
    explained = explain(text, event)
    assert type(explained.value) is type(compiled.value)
    assert explained.value == compiled.value
    assert ([explained.error.kind] if explained.error else []) == [e.kind for e in compiled.errors]
    assert explained.matched is expression.matches(event)
    if explained.matched:
        assert explained.part == ""
        assert explained.reason() == ""
        return
    # the part is a piece of the text as written, and what it reads is the event's
    assert explained.part
    assert explained.part in text
    assert explained.reason()
    for name, value in explained.reads:
        assert name in explained.part.lower()
        assert (name in event.attributes) is (value is not None)
    if explained.error is None:
        assert explained.part_value is not None
        assert explained.part_value is not True
