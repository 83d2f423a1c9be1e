"""Parser tests: error positions, precedence, associativity, literals and identifiers."""

from __future__ import annotations

import pytest

from kawa.cesql import CesqlError, CesqlParseError, compile_expression
from kawa.cesql.syntax import Binary, Call, Exists, Identifier, In, Like, Literal, Unary, parse
from kawa.cloudevents import CloudEvent
from kawa.errors import ValidationError

_EV = CloudEvent({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"})


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("ABC(", 1, 5),
        ("a = ", 1, 5),
        ("a AND\n  b ==", 2, 6),
        ("x LIKE 123", 1, 8),
        ("'unterminated", 1, 1),
        ("a # b", 1, 3),
        ("2147483648", 1, 1),
        ("(a", 1, 3),
        ("a b", 1, 3),
        ("EXISTS 'x'", 1, 8),
        ("my_ext = 1", 1, 1),
        ("f2(1)", 1, 1),
        ("", 1, 1),
        ("4 -1", 1, 3),
        ("1 IN ()", 1, 7),
    ],
)
def test_parse_errors_carry_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(CesqlParseError) as info:
        compile_expression(text)
    err = info.value
    assert (err.line, err.column) == (line, column)
    assert err.kind == "parse"
    assert f"at {line}:{column}" in str(err)
    assert isinstance(err, CesqlError)
    assert isinstance(err, ValidationError)
    assert err.errors[0].path == ""


def test_precedence_multiplicative_over_additive_over_comparison() -> None:
    assert parse("1 + 2 * 3 = 7") == Binary(
        "=", Binary("+", Literal(1), Binary("*", Literal(2), Literal(3))), Literal(7)
    )


def test_like_and_in_bind_tighter_than_arithmetic_and_logic() -> None:
    assert parse("a LIKE 'x' AND b IN (1)") == Binary(
        "AND", Like(Identifier("a"), "x", False), In(Identifier("b"), (Literal(1),), False)
    )
    assert parse("1 + a NOT IN (2)") == Binary(
        "+", Literal(1), In(Identifier("a"), (Literal(2),), True)
    )


def test_not_and_minus_bind_tightest() -> None:
    assert parse("NOT a = b") == Binary("=", Unary("NOT", Identifier("a")), Identifier("b"))
    assert parse("-a * 2") == Binary("*", Unary("-", Identifier("a")), Literal(2))
    assert parse("NOT EXISTS x") == Unary("NOT", Exists("x"))


def test_logic_operators_share_one_level_left_to_right() -> None:
    a, b, c = Identifier("a"), Identifier("b"), Identifier("c")
    assert parse("a OR b AND c") == Binary("AND", Binary("OR", a, b), c)
    assert parse("a AND b XOR c") == Binary("XOR", Binary("AND", a, b), c)
    assert compile_expression("TRUE OR FALSE AND FALSE").evaluate(_EV).value is False


def test_signed_integer_literals_follow_the_lexer() -> None:
    assert parse("-2147483648") == Literal(-2147483648)
    assert parse("--10") == Unary("-", Literal(-10))
    assert parse("4 - -1") == Binary("-", Literal(4), Literal(-1))
    assert parse("+7") == Literal(7)


def test_string_literal_escapes() -> None:
    assert parse("'a\"b\\'c'") == Literal("a\"b'c")
    assert parse('"a\'b\\"c"') == Literal("a'b\"c")
    assert parse("'it''s'") == Literal("it's")
    assert parse("''") == Literal("")
    assert parse("'a\\%b'") == Literal("a\\%b")  # other escapes stay for LIKE


def test_keywords_and_functions_are_case_insensitive_identifiers_lowercased() -> None:
    assert parse("int(HOP) and TrUe") == Binary(
        "AND", Call("INT", (Identifier("hop"),)), Literal(True)
    )
    assert parse("EXISTS SOURCE") == Exists("source")
    assert parse("concat_ws(',', a2)") == Call("CONCAT_WS", (Literal(","), Identifier("a2")))


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5000,
        "(" * 400 + "TRUE" + ")" * 400,
        " OR ".join(f"type = 't{i}'" for i in range(2000)),
        " + ".join(["exint"] * 2000),
        "NOT " * 2000 + "TRUE",
        "ABS(" * 500 + "1" + ")" * 500,
    ],
)
def test_too_deep_or_too_long_is_a_parse_error(text: str) -> None:
    from kawa.cesql import CesqlParseError, compile_expression

    with pytest.raises(CesqlParseError, match="too deeply"):
        compile_expression(text)
