"""Why a CESQL expression does or does not let an event through: the part that decided.

:func:`explain` evaluates an expression against one event by walking its syntax tree with
the semantics of :mod:`kawa.cesql.interpreter` (the tests hold it to the compiled evaluator,
example by example and on random expressions), recording the value of every node it
evaluates. When the result is not Boolean ``true`` without an error, it names the *part*
of the expression responsible, as the user wrote it (the nodes carry their span of the
text):

- an error: the smallest sub-expression that failed (an attribute that is missing is shown
  with the expression that read it: ``missing = 'x'``, not ``missing``), and the error;
- ``false``: down a chain of ``AND`` to the first operand that was false (``a AND b AND c``
  with ``b`` false names ``b``, and inside it, if ``b`` is itself an ``AND``, its own
  false operand); any other false expression (``OR``, ``NOT``, a comparison) is named
  whole;
- a value that is not a Boolean (``exint + 1``): the whole expression.

With the part come the attributes it reads and the event's values for them (``None`` for an
attribute the event does not have). Explaining is for a person asking (``kawa why``); the
trigger filters keep using the compiled closures (:mod:`kawa.cesql.compiler`).
"""

from __future__ import annotations

from dataclasses import dataclass

from kawa.cesql import runtime as rt
from kawa.cesql.compiler import TOO_DEEP, compile_expression, zero_of
from kawa.cesql.errors import CesqlError, CesqlParseError, Failure, Value
from kawa.cesql.syntax import (
    Binary,
    Call,
    Exists,
    Identifier,
    In,
    Like,
    Literal,
    Node,
    Unary,
    parse,
)
from kawa.cloudevents import CloudEvent


@dataclass(frozen=True, slots=True)
class Explanation:
    """The outcome of one expression for one event, and what decided it."""

    expression: str
    value: Value
    """The expression's value (the zero of its type when an error stopped the evaluation)."""
    error: CesqlError | None
    part: str
    """The sub-expression (as written) that was false, failed or not Boolean; ``""`` when
    the expression is true."""
    part_value: Value | None
    """The value of ``part``; ``None`` when it failed."""
    reads: tuple[tuple[str, Value | None], ...]
    """The attributes ``part`` reads, with the event's values (``None``: not in the event)."""

    @property
    def matched(self) -> bool:
        """The trigger filter rule: Boolean true without error."""
        return self.error is None and self.value is True

    def reason(self) -> str:
        """One line: why the expression does not let the event through (``""`` if it does)."""
        if self.matched:
            return ""
        if self.error is not None:
            return f"{self.error.kind} error in `{self.part}`: {self.error.message}"
        if self.part_value is False:
            return f"`{self.part}` is false"
        assert self.part_value is not None
        return (
            f"`{self.part}` is {rt.type_of(self.part_value)} {literal(self.part_value)}, not true"
        )


def literal(value: Value) -> str:
    """``value`` written as a CESQL literal (``'it''s'``, ``42``, ``TRUE``)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def explain(text: str, event: CloudEvent) -> Explanation:
    """Evaluate ``text`` for ``event`` and say what decided; raises CesqlParseError."""
    try:
        root = parse(text)
    except RecursionError:
        raise CesqlParseError(TOO_DEEP, line=1, column=1) from None
    trace = _Trace(event)
    error: CesqlError | None = None
    try:
        value = trace.walk(root)
    except Failure as exc:
        kept = exc.value if exc.origin is root and exc.value is not None else None
        value = zero_of(root) if kept is None else kept
        error = exc.to_error()
    except RecursionError:
        # deeper than this walker goes: the compiled evaluator decides, the whole is the part
        result = compile_expression(text).evaluate(event)
        error = result.errors[0] if result.errors else None
        if result.value is True and error is None:
            return Explanation(text, True, None, "", None, ())
        return Explanation(text, result.value, error, text, result.value, ())
    if error is None and value is True:
        return Explanation(text, value, None, "", None, ())
    if error is not None:
        part = trace.failed_part()
        part_value = None
    else:
        part = trace.false_part(root) if value is False else root
        part_value = trace.values[id(part)]
    start, end = part.span
    return Explanation(text, value, error, text[start:end], part_value, _reads(part, event))


def attribute_names(text: str) -> list[str]:
    """The attributes ``text`` reads, in order, once each (``[]`` if it does not parse)."""
    try:
        return _names(parse(text))
    except (CesqlParseError, RecursionError):
        return []


def _names(node: Node) -> list[str]:
    names: dict[str, None] = {}
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Identifier | Exists):
            names.setdefault(current.name)
        else:
            stack.extend(reversed(_children(current)))
    return list(names)


def _reads(node: Node, event: CloudEvent) -> tuple[tuple[str, Value | None], ...]:
    attributes = event.attributes
    return tuple(
        (name, None if attributes.get(name) is None else rt.attribute_value(attributes[name]))
        for name in _names(node)
    )


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary | Like):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.operand, *node.items)
    if isinstance(node, Call):
        return node.args
    return ()


def _chain(node: Binary) -> list[Node]:
    """The operands of a left-associated chain of ``node.op`` (``a AND b AND c``), in order."""
    operands: list[Node] = [node.right]
    left: Node = node.left
    while isinstance(left, Binary) and left.op == node.op:
        operands.append(left.right)
        left = left.left
    operands.append(left)
    operands.reverse()
    return operands


class _Trace:
    """One evaluation, recording each node's value and the nodes a failure unwound through."""

    __slots__ = ("event", "failed", "values")

    def __init__(self, event: CloudEvent) -> None:
        self.event = event
        self.values: dict[int, Value] = {}
        self.failed: list[Node] = []  # innermost first

    def failed_part(self) -> Node:
        """The node that failed (a missing attribute: the expression that read it)."""
        first = self.failed[0]
        if isinstance(first, Identifier) and len(self.failed) > 1:
            return self.failed[1]
        return first

    def false_part(self, node: Node) -> Node:
        """Down ``AND`` chains to the first false operand (``node`` evaluated to false)."""
        while isinstance(node, Binary) and node.op == "AND":
            reached = [n for n in _chain(node) if id(n) in self.values]
            if not reached:
                return node
            last = reached[-1]  # evaluation stopped at the first false operand
            if self.values[id(last)] is not False:
                return last  # false once cast to Boolean (0, 'false')
            node = last
        return node

    def walk(self, node: Node) -> Value:
        try:
            value = self._walk(node)
        except Failure:
            self.failed.append(node)
            raise
        self.values[id(node)] = value
        return value

    def _bool(self, node: Node) -> bool:
        """``node``'s value cast to Boolean; a failing cast is ``node``'s failure."""
        value = self.walk(node)
        try:
            return rt.to_bool(value)
        except Failure:
            self.failed.append(node)
            raise

    def _walk(self, node: Node) -> Value:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Identifier):
            raw = self.event.attributes.get(node.name)
            if raw is None:
                raise rt.missing(node.name)
            return rt.attribute_value(raw)
        if isinstance(node, Exists):
            return node.name in self.event.attributes
        if isinstance(node, Unary):
            if node.op == "NOT":
                return not self._bool(node.operand)
            return rt.int32(-rt.to_int(self.walk(node.operand)))
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Like):
            text = rt.to_str(self.walk(node.operand))
            return rt.like_matcher(node.pattern)(text) is not node.negated
        if isinstance(node, In):
            x = self.walk(node.operand)
            for item in node.items:
                if rt.cast_to_type_of(self.walk(item), x) == x:
                    return not node.negated
            return node.negated
        return self._call(node)

    def _binary(self, node: Binary) -> Value:
        op = node.op
        if op in ("AND", "OR"):
            stop = op == "OR"  # the operand value that decides the chain
            for operand in _chain(node):
                if self._bool(operand) is stop:
                    return stop
            return not stop
        x = self.walk(node.left)
        y = self.walk(node.right)
        if op == "XOR":
            return rt.to_bool(x) != rt.to_bool(y)
        if op in ("=", "!=", "<>"):
            return (rt.cast_to_type_of(x, y) == y) is (op == "=")
        if op in ("<", "<=", ">", ">="):
            return rt.compare(op, rt.to_int(x), rt.to_int(y))
        return rt.arithmetic(op, rt.to_int(x), rt.to_int(y))

    def _call(self, node: Call) -> Value:
        fn = rt.resolve(node.name, len(node.args))
        if fn is None:
            raise rt.missing_function(node.name, len(node.args))
        args = [rt.CASTS[fn.param_type(i)](self.walk(a)) for i, a in enumerate(node.args)]
        try:
            return fn.impl(*args)
        except Failure as exc:
            exc.origin = node
            raise
