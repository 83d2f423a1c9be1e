"""Compile a CESQL syntax tree into nested Python closures, once per expression.

Nothing walks the tree at evaluation time: each node becomes a closure specialised for its
operand kinds (``attribute = 'literal'``, ``attribute LIKE 'prefix%'``, ``attribute > 10``
are single closures), constant subtrees are folded, ``LIKE`` patterns become prefix/suffix
checks or one precompiled regex, and ``IN`` over literals becomes a set lookup. Errors unwind
as :class:`~kawa.cesql.errors.Failure`; :class:`Expression` turns them into the spec's
"value plus errors" :class:`Result`.

Called through :func:`kawa.cesql.compile_expression` (trigger filters, admission, the CLI).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from kawa.cesql import runtime as rt
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

Fn = Callable[[CloudEvent], Value]

_ORDER: Final[dict[str, Callable[[int, int], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one evaluation: a value (always defined) and the errors met on the way."""

    value: bool | int | str
    errors: tuple[CesqlError, ...]


@dataclass(frozen=True, slots=True)
class _C:
    fn: Fn
    type: str | None  # static CESQL type; None when only known at run time (attributes)
    const: bool = False


def static_type(node: Node) -> str | None:
    """The static result type of ``node`` (``None`` for a bare attribute reference)."""
    if isinstance(node, Literal):
        return rt.type_of(node.value)
    if isinstance(node, Identifier):
        return None
    if isinstance(node, Binary) and node.op in ("+", "-", "*", "/", "%"):
        return rt.INT
    if isinstance(node, Unary) and node.op == "-":
        return rt.INT
    if isinstance(node, Call):
        fn = rt.resolve(node.name, len(node.args))
        return None if fn is None else fn.returns
    return rt.BOOL


def zero_of(node: Node) -> Value:
    """The value an expression has when its evaluation fails (the zero of its type)."""
    return rt.ZERO[static_type(node)]


def _constant(value: Value) -> _C:
    return _C(lambda ev: value, rt.type_of(value), True)


def _reader(name: str) -> Fn:
    def read(ev: CloudEvent) -> Value:
        v = ev.attributes.get(name)
        if v is None:
            raise rt.missing(name)
        t = type(v)
        if t is str or t is int or t is bool:
            return cast(Value, v)
        return rt.attribute_value(v)

    return read


def _as(c: _C, target: str) -> Fn:
    """``c`` cast to ``target`` at run time (no wrapper when the static type already fits)."""
    f = c.fn
    if target in (c.type, rt.ANY):
        return f
    conv = rt.CASTS[target]
    return lambda ev: conv(f(ev))


class _Compiler:
    def compile(self, node: Node) -> _C:
        c = self._compile(node)
        if c.const or isinstance(node, Identifier | Exists | Literal):
            return c
        if self._children_const(node):
            try:
                value = c.fn(cast(CloudEvent, None))
            except Failure:
                return c
            return _constant(value)
        return c

    def _children_const(self, node: Node) -> bool:
        kids: tuple[Node, ...]
        if isinstance(node, Unary):
            kids = (node.operand,)
        elif isinstance(node, Binary):
            kids = (node.left, node.right)
        elif isinstance(node, Like):
            kids = (node.operand,)
        elif isinstance(node, In):
            kids = (node.operand, *node.items)
        elif isinstance(node, Call):
            kids = node.args
        else:
            return False
        return all(isinstance(k, Literal) or self._folded(k) for k in kids)

    def _folded(self, node: Node) -> bool:
        if isinstance(node, Identifier | Exists):
            return False
        if isinstance(node, Literal):
            return True
        return self._children_const(node)

    def _compile(self, node: Node) -> _C:
        if isinstance(node, Literal):
            return _constant(node.value)
        if isinstance(node, Identifier):
            return _C(_reader(node.name), None)
        if isinstance(node, Exists):
            name = node.name
            return _C(lambda ev: name in ev.attributes, rt.BOOL)
        if isinstance(node, Unary):
            return self._unary(node)
        if isinstance(node, Binary):
            if node.op in ("AND", "OR", "XOR"):
                return self._logic(node)
            if node.op in ("=", "!=", "<>"):
                return self._equality(node)
            if node.op in _ORDER:
                return self._order(node)
            return self._arithmetic(node)
        if isinstance(node, Like):
            return self._like(node)
        if isinstance(node, In):
            return self._in(node)
        return self._call(node)

    def _unary(self, node: Unary) -> _C:
        operand = self.compile(node.operand)
        if node.op == "NOT":
            f = _as(operand, rt.BOOL)
            return _C(lambda ev: not f(ev), rt.BOOL)
        g = _as(operand, rt.INT)
        int32 = rt.int32
        return _C(lambda ev: int32(-cast(int, g(ev))), rt.INT)

    def _logic(self, node: Binary) -> _C:
        op = node.op
        if op == "XOR":
            a, b = self.compile(node.left).fn, self.compile(node.right).fn
            to_bool = rt.to_bool

            def xor(ev: CloudEvent) -> Value:
                x = a(ev)  # both operands are evaluated before either is cast
                y = b(ev)
                return to_bool(x) != to_bool(y)

            return _C(xor, rt.BOOL)
        # flatten a left-associated chain of the same short-circuit operator
        chain: list[Node] = [node.right]
        left: Node = node.left
        while isinstance(left, Binary) and left.op == op:
            chain.append(left.right)
            left = left.left
        chain.append(left)
        fns = [_as(self.compile(n), rt.BOOL) for n in reversed(chain)]
        if op == "AND":
            if len(fns) == 2:
                a, b = fns
                return _C(lambda ev: a(ev) and b(ev), rt.BOOL)
            if len(fns) == 3:
                a, b, c = fns
                return _C(lambda ev: a(ev) and b(ev) and c(ev), rt.BOOL)

            def all_of(ev: CloudEvent) -> Value:
                return all(f(ev) for f in fns)

            return _C(all_of, rt.BOOL)
        if len(fns) == 2:
            a, b = fns
            return _C(lambda ev: a(ev) or b(ev), rt.BOOL)

        def any_of(ev: CloudEvent) -> Value:
            return any(f(ev) for f in fns)

        return _C(any_of, rt.BOOL)

    def _equality(self, node: Binary) -> _C:
        negate = node.op != "="
        left, right = self.compile(node.left), self.compile(node.right)
        if isinstance(node.left, Identifier) and right.const:
            name = node.left.name
            lit = right.fn(cast(CloudEvent, None))
            lit_type = type(lit)
            conv = rt.CASTS[rt.type_of(lit)]
            value_of = rt.attribute_value

            def eq_attr(ev: CloudEvent) -> Value:
                v = ev.attributes.get(name)
                if type(v) is lit_type:
                    return v == lit
                if v is None:
                    raise rt.missing(name)
                return conv(value_of(v)) == lit

            if not negate:
                return _C(eq_attr, rt.BOOL)
            return _C(lambda ev: not eq_attr(ev), rt.BOOL)
        a, b = left.fn, right.fn
        like = rt.cast_to_type_of
        if right.type is not None and right.type == left.type:
            if negate:
                return _C(lambda ev: a(ev) != b(ev), rt.BOOL)
            return _C(lambda ev: a(ev) == b(ev), rt.BOOL)

        def eq(ev: CloudEvent) -> Value:
            x = a(ev)
            y = b(ev)
            return (like(x, y) == y) is not negate

        return _C(eq, rt.BOOL)

    def _order(self, node: Binary) -> _C:
        cmp = _ORDER[node.op]
        left, right = self.compile(node.left), self.compile(node.right)
        lit = self._int_constant(right)
        if isinstance(node.left, Identifier) and lit is not None:
            name = node.left.name
            to_int, value_of = rt.to_int, rt.attribute_value

            def order_attr(ev: CloudEvent) -> Value:
                v = ev.attributes.get(name)
                if type(v) is not int:
                    if v is None:
                        raise rt.missing(name)
                    v = to_int(value_of(v))
                return cmp(v, lit)

            return _C(order_attr, rt.BOOL)
        a, b = left.fn, right.fn
        to_int = rt.to_int

        def order(ev: CloudEvent) -> Value:
            x = a(ev)  # both operands are evaluated before either is cast
            y = b(ev)
            return cmp(to_int(x), to_int(y))

        return _C(order, rt.BOOL)

    @staticmethod
    def _int_constant(c: _C) -> int | None:
        """The Integer value of a constant operand, ``None`` if not constant or not castable."""
        if not c.const:
            return None
        try:
            return rt.to_int(c.fn(cast(CloudEvent, None)))
        except Failure:
            return None

    def _arithmetic(self, node: Binary) -> _C:
        a, b = self.compile(node.left).fn, self.compile(node.right).fn
        apply, op, to_int = rt.arithmetic, node.op, rt.to_int

        def arithmetic(ev: CloudEvent) -> Value:
            x = a(ev)  # both operands are evaluated before either is cast
            y = b(ev)
            return apply(op, to_int(x), to_int(y))

        return _C(arithmetic, rt.INT)

    def _like(self, node: Like) -> _C:
        match = rt.like_matcher(node.pattern)
        negated = node.negated
        if isinstance(node.operand, Identifier):
            name = node.operand.name
            to_str, value_of = rt.to_str, rt.attribute_value

            def like_attr(ev: CloudEvent) -> Value:
                v = ev.attributes.get(name)
                if type(v) is not str:
                    if v is None:
                        raise rt.missing(name)
                    v = to_str(value_of(v))
                return match(v) is not negated

            return _C(like_attr, rt.BOOL)
        f = _as(self.compile(node.operand), rt.STR)
        return _C(lambda ev: match(cast(str, f(ev))) is not negated, rt.BOOL)

    def _in(self, node: In) -> _C:
        x = self.compile(node.operand).fn
        items = [self.compile(item) for item in node.items]
        negated = node.negated
        if all(item.const for item in items):
            values = [item.fn(cast(CloudEvent, None)) for item in items]
            table: dict[type, tuple[frozenset[Any], Failure | None]] = {}
            for sample in (True, 0, ""):
                seen: list[Value] = []
                failure: Failure | None = None
                for v in values:
                    try:
                        seen.append(rt.cast_to_type_of(v, sample))
                    except Failure as exc:
                        failure = exc
                        break
                table[type(sample)] = (frozenset(seen), failure)

            def in_set(ev: CloudEvent) -> Value:
                v = x(ev)
                members, fail = table[type(v)]
                if v in members:
                    return not negated
                if fail is not None:
                    raise Failure(fail.kind, fail.message)
                return negated

            return _C(in_set, rt.BOOL)
        fns = [item.fn for item in items]
        like = rt.cast_to_type_of

        def in_list(ev: CloudEvent) -> Value:
            v = x(ev)
            for f in fns:
                if like(f(ev), v) == v:
                    return not negated
            return negated

        return _C(in_list, rt.BOOL)

    def _call(self, node: Call) -> _C:
        fn = rt.resolve(node.name, len(node.args))
        if fn is None:
            failure = rt.missing_function(node.name, len(node.args))

            def missing(ev: CloudEvent) -> Value:
                raise Failure(failure.kind, failure.message)

            return _C(missing, None)
        args = [_as(self.compile(arg), fn.param_type(i)) for i, arg in enumerate(node.args)]
        impl = fn.impl

        def call(ev: CloudEvent) -> Value:
            values = [a(ev) for a in args]
            try:
                return impl(*values)
            except Failure as exc:
                exc.origin = node
                raise

        return _C(call, fn.returns)


class Expression:
    """A compiled CESQL expression; build with :func:`compile_expression`."""

    __slots__ = ("_fn", "_root", "_zero", "text")

    def __init__(self, text: str, root: Node) -> None:
        self.text = text
        self._root = root
        self._zero = zero_of(root)
        self._fn = _Compiler().compile(root).fn

    def evaluate(self, event: CloudEvent) -> Result:
        """The value of the expression for ``event`` and the errors met (spec section 3.3)."""
        try:
            return Result(self._fn(event), ())
        except Failure as exc:
            value = exc.value if exc.origin is self._root and exc.value is not None else None
            return Result(self._zero if value is None else value, (exc.to_error(),))
        except RecursionError:
            return Result(self._zero, (CesqlError("generic", TOO_DEEP),))

    def matches(self, event: CloudEvent) -> bool:
        """True only for Boolean true without error: the trigger filter rule."""
        try:
            return self._fn(event) is True
        except (Failure, RecursionError):
            return False

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


TOO_DEEP: Final = (
    "the expression nests too deeply or chains too many operators to evaluate (use IN (...) "
    "for long lists of alternatives, or split it into several filters)"
)


def compile_expression(text: str) -> Expression:
    """Parse and compile ``text``; raises :class:`~kawa.cesql.CesqlParseError`."""
    try:
        return Expression(text, parse(text))
    except RecursionError:
        raise CesqlParseError(TOO_DEEP, line=1, column=1) from None
