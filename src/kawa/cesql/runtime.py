"""CESQL v1 runtime: values, casts, LIKE patterns and the built-in functions.

Shared by the closure compiler (:mod:`kawa.cesql.compiler`) and the AST walker
(:mod:`kawa.cesql.interpreter`), so that both have exactly the same semantics. Every failure
raises :class:`~kawa.cesql.errors.Failure` with the spec's error kind.

Casts (spec section 3.7 and the v1 casting rules): String to Integer parses an optional sign
and decimal digits that fit int32; String to Boolean accepts ``true``/``false`` in any case;
Integer to Boolean is ``x != 0``; Boolean to Integer is 1/0; Integer and Boolean to String are
decimal text and ``true``/``false``. Attribute values keep their CloudEvents type; Binary
attributes read as their base64 text (the canonical String form of Binary).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from kawa.cesql.errors import Failure, Value
from kawa.cesql.syntax import INT32_MAX, INT32_MIN

BOOL: Final = "Boolean"
INT: Final = "Integer"
STR: Final = "String"
ANY: Final = "Any"

ZERO: Final[dict[str | None, Value]] = {BOOL: False, INT: 0, STR: "", ANY: False, None: False}

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_TRIM_CHARS: Final = " \t\n\r\v\f"


def attribute_value(raw: object) -> Value:
    """The CESQL value of a CloudEvent attribute value (bytes become base64 text)."""
    t = type(raw)
    if t is str or t is int or t is bool:
        return raw  # type: ignore[return-value]
    if isinstance(raw, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(raw)).decode("ascii")
    return str(raw)


def missing(name: str) -> Failure:
    return Failure("missingAttribute", f"the event has no attribute {name!r}")


def to_int(v: Value) -> int:
    t = type(v)
    if t is int:
        return v  # type: ignore[return-value]
    if t is bool:
        return 1 if v else 0
    s = str(v)
    if _INT_TEXT.fullmatch(s):
        n = int(s)
        if INT32_MIN <= n <= INT32_MAX:
            return n
    raise Failure("cast", f"cannot cast String {s!r} to Integer")


def to_bool(v: Value) -> bool:
    t = type(v)
    if t is bool:
        return v  # type: ignore[return-value]
    if t is int:
        return v != 0
    s = str(v).lower()
    if s == "true":
        return True
    if s == "false":
        return False
    raise Failure("cast", f"cannot cast String {v!r} to Boolean")


def to_str(v: Value) -> str:
    t = type(v)
    if t is str:
        return v  # type: ignore[return-value]
    if t is bool:
        return "true" if v else "false"
    return str(v)


CASTS: Final[dict[str, Callable[[Value], Value]]] = {
    BOOL: to_bool,
    INT: to_int,
    STR: to_str,
    ANY: lambda v: v,
}


def type_of(v: Value) -> str:
    t = type(v)
    return BOOL if t is bool else INT if t is int else STR


def cast_to_type_of(v: Value, like: Value) -> Value:
    """``v`` cast to the type of ``like`` (the rule for ``=`` and for the items of ``IN``)."""
    t = type(like)
    if type(v) is t:
        return v
    if t is bool:
        return to_bool(v)
    if t is int:
        return to_int(v)
    return to_str(v)


def int32(n: int) -> int:
    """``n`` when it fits int32; otherwise a math error (with the saturated value)."""
    if INT32_MIN <= n <= INT32_MAX:
        return n
    raise Failure(
        "math", f"integer overflow: {n} is not a 32-bit integer", INT32_MAX if n > 0 else INT32_MIN
    )


def divide(x: int, y: int) -> int:
    if y == 0:
        raise Failure("math", "division by zero", 0)
    q = abs(x) // abs(y)
    return int32(q if (x < 0) == (y < 0) else -q)


def modulo(x: int, y: int) -> int:
    if y == 0:
        raise Failure("math", "modulo by zero", 0)
    r = abs(x) % abs(y)
    return -r if x < 0 else r


def arithmetic(op: str, x: int, y: int) -> int:
    if op == "+":
        return int32(x + y)
    if op == "-":
        return int32(x - y)
    if op == "*":
        return int32(x * y)
    if op == "/":
        return divide(x, y)
    return modulo(x, y)


def compare(op: str, x: int, y: int) -> bool:
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


# --- LIKE --------------------------------------------------------------------------------


def like_matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate for ``x LIKE pattern``: ``%`` any run, ``_`` one character, ``\\`` escapes.

    A backslash before ``%``, ``_`` or another backslash makes it literal; before anything
    else it is itself literal. Simple shapes (exact, prefix, suffix, infix) avoid regexes.
    """
    items: list[tuple[str, str]] = []  # ("lit", text) | ("%", "") | ("_", "")
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n and pattern[i + 1] in "%_\\":
            ch, kind = pattern[i + 1], "lit"
            i += 2
        else:
            kind = ch if ch in "%_" else "lit"
            i += 1
        if kind == "lit" and items and items[-1][0] == "lit":
            items[-1] = ("lit", items[-1][1] + ch)
        else:
            items.append((kind, ch if kind == "lit" else ""))
    kinds = [kind for kind, _ in items]
    wild = [kind for kind in kinds if kind != "lit"]
    if not wild:
        exact = items[0][1] if items else ""
        return lambda s: s == exact
    if wild == ["%"]:
        split = kinds.index("%")
        head = items[0][1] if split == 1 else ""
        tail = items[-1][1] if split == len(items) - 2 else ""
        if not tail:
            return lambda s: s.startswith(head)
        if not head:
            return lambda s: s.endswith(tail)
        size = len(head) + len(tail)
        return lambda s: len(s) >= size and s.startswith(head) and s.endswith(tail)
    if kinds in (["%", "lit", "%"], ["%", "%"]):
        middle = items[1][1] if len(items) == 3 else ""
        return lambda s: middle in s
    if wild.count("%") <= 1:
        # one run wildcard at most: a regex cannot backtrack catastrophically
        regex = "".join(
            re.escape(text) if kind == "lit" else ".*" if kind == "%" else "."
            for kind, text in items
        )
        compiled = re.compile(regex, re.DOTALL)
        return lambda s: compiled.fullmatch(s) is not None
    # Several '%': a regex such as .*a.*a.*b backtracks exponentially on long values (one
    # event could stall the event loop); the two-pointer wildcard match is O(len * pattern).
    tokens: list[str | None] = []  # a literal character, _ANY (one character) or _RUN ('%')
    for kind, text in items:
        if kind == "lit":
            tokens.extend(text)
        else:
            tokens.append(_ANY if kind == "_" else _RUN)
    return lambda s: _wildcard(tokens, s)


_ANY: Final = "\x00any"
_RUN: Final = "\x00run"


def _wildcard(tokens: list[str | None], s: str) -> bool:
    i = j = 0
    star, mark = -1, 0
    n, m = len(s), len(tokens)
    while i < n:
        token = tokens[j] if j < m else None
        if token is _RUN:
            star, mark = j, i
            j += 1
        elif token is not None and (token is _ANY or token == s[i]):
            i += 1
            j += 1
        elif star >= 0:
            j = star + 1
            mark += 1
            i = mark
        else:
            return False
    while j < m and tokens[j] is _RUN:
        j += 1
    return j == m


# --- functions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Function:
    """One built-in overload: fixed parameter types, optional variadic type, return type."""

    name: str
    params: tuple[str, ...]
    variadic: str | None
    returns: str
    impl: Callable[..., Value]

    def accepts(self, arity: int) -> bool:
        if self.variadic is None:
            return arity == len(self.params)
        return arity >= len(self.params)

    def param_type(self, index: int) -> str:
        if index < len(self.params):
            return self.params[index]
        return self.variadic or ANY


def _left(x: str, y: int) -> str:
    if y < 0:
        raise Failure("functionEvaluation", f"LEFT length {y} is negative", x)
    return x[:y]


def _right(x: str, y: int) -> str:
    if y < 0:
        raise Failure("functionEvaluation", f"RIGHT length {y} is negative", x)
    return x[len(x) - y :] if y < len(x) else x


def _start(x: str, pos: int) -> int:
    n = len(x)
    if pos > n or pos < -n:
        raise Failure("functionEvaluation", f"SUBSTRING position {pos} is out of range", "")
    return pos - 1 if pos > 0 else n + pos


def _substring(x: str, pos: int) -> str:
    start = _start(x, pos)
    return "" if pos == 0 else x[start:]


def _substring_len(x: str, pos: int, length: int) -> str:
    start = _start(x, pos)
    if length < 0:
        raise Failure("functionEvaluation", f"SUBSTRING length {length} is negative", "")
    return "" if pos == 0 else x[start : start + length]


def _abs(x: int) -> int:
    return int32(abs(x))


_BUILTINS: Final = (
    Function("ABS", (INT,), None, INT, _abs),
    Function("LENGTH", (STR,), None, INT, len),
    Function("CONCAT", (), STR, STR, lambda *xs: "".join(xs)),
    Function("CONCAT_WS", (STR,), STR, STR, lambda sep, *xs: sep.join(xs)),
    Function("LOWER", (STR,), None, STR, str.lower),
    Function("UPPER", (STR,), None, STR, str.upper),
    Function("TRIM", (STR,), None, STR, lambda x: x.strip(_TRIM_CHARS)),
    Function("LEFT", (STR, INT), None, STR, _left),
    Function("RIGHT", (STR, INT), None, STR, _right),
    Function("SUBSTRING", (STR, INT), None, STR, _substring),
    Function("SUBSTRING", (STR, INT, INT), None, STR, _substring_len),
    Function("INT", (ANY,), None, INT, to_int),
    Function("BOOL", (ANY,), None, BOOL, to_bool),
    Function("STRING", (ANY,), None, STR, to_str),
)

FUNCTIONS: Final[dict[str, tuple[Function, ...]]] = {}
for _f in _BUILTINS:
    FUNCTIONS[_f.name] = (*FUNCTIONS.get(_f.name, ()), _f)

FUNCTION_NAMES: Final = tuple(sorted(FUNCTIONS))


def resolve(name: str, arity: int) -> Function | None:
    """The built-in ``name`` taking ``arity`` arguments, or ``None``."""
    for fn in FUNCTIONS.get(name, ()):
        if fn.accepts(arity):
            return fn
    return None


def missing_function(name: str, arity: int) -> Failure:
    return Failure("missingFunction", f"no function {name} taking {arity} argument(s)")
