"""CESQL v1 lexer and parser: expression text to an immutable syntax tree.

The grammar is the spec's ``CESQLParser.g4``/``CESQLLexer.g4`` (cloudevents/spec,
cesql@v1.0.0); keywords and function names are case-insensitive, attribute identifiers are
lowercased (CloudEvents attribute names are lowercase). Precedence, highest first: function
call; ``NOT`` and unary ``-``; ``LIKE``/``IN`` (with optional ``NOT``) and ``EXISTS``;
``* / %``; ``+ -``; comparisons; ``AND OR XOR``. The logic operators share one level and
associate left to right, as the spec text says (the ANTLR grammar marks them
right-associative; see docs/cesql.md). As in the lexer, a ``+`` or ``-`` written right
before a digit is the sign of an integer literal (``4 -1`` is a syntax error, ``4 - 1`` is
not). Every problem raises :class:`~kawa.cesql.errors.CesqlParseError` with its 1-based
line and column.

Called by :mod:`kawa.cesql.compiler` and :mod:`kawa.cesql.interpreter`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from kawa.cesql.errors import CesqlParseError, Value

INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1

KEYWORDS: Final = frozenset({"AND", "OR", "XOR", "NOT", "LIKE", "EXISTS", "IN", "TRUE", "FALSE"})
LOGIC_OPS: Final = frozenset({"AND", "OR", "XOR"})
COMPARISON_OPS: Final = frozenset({"=", "!=", "<>", "<", "<=", ">", ">="})


Span = tuple[int, int]
"""Where a node is in the expression text: ``text[start:end]`` (not part of its equality)."""


@dataclass(frozen=True, slots=True)
class Literal:
    value: Value
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Identifier:
    name: str
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Exists:
    name: str
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "NOT" or "-"
    operand: Node
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # AND OR XOR = != <> < <= > >= + - * / %
    left: Node
    right: Node
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Like:
    operand: Node
    pattern: str
    negated: bool
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class In:
    operand: Node
    items: tuple[Node, ...]
    negated: bool
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # uppercased
    args: tuple[Node, ...]
    span: Span = field(default=(0, 0), compare=False)


Node = Literal | Identifier | Exists | Unary | Binary | Like | In | Call

# --- lexer -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<int>[+-]?[0-9]+(?![A-Za-z_0-9]))
  | (?P<word>[A-Za-z0-9_]+)
  | (?P<sq>'(?:\\.|''|[^'\\])*')
  | (?P<dq>"(?:\\.|""|[^"\\])*")
  | (?P<op>!=|<>|<=|>=|[-+*/%=<>(),])
    """,
    re.VERBOSE | re.DOTALL,
)
_IDENTIFIER = re.compile(r"[A-Za-z0-9]+")
_FUNCTION = re.compile(r"[A-Za-z][A-Za-z_]*")
_SQ_ESCAPE = re.compile(r"\\'|''", re.DOTALL)
_DQ_ESCAPE = re.compile(r'\\"|""', re.DOTALL)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # int, word, kw, str, op, eof
    text: str
    value: Value
    offset: int


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _error(text: str, offset: int, message: str) -> CesqlParseError:
    line, column = _position(text, offset)
    return CesqlParseError(message, line=line, column=column)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    end = len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            if ch in "'\"":
                raise _error(text, pos, "unterminated string literal")
            raise _error(text, pos, f"unexpected character {ch!r}")
        kind = m.lastgroup or ""
        raw = m.group()
        if kind == "int":
            number = int(raw)
            if not INT32_MIN <= number <= INT32_MAX:
                raise _error(text, pos, f"integer literal {raw} is not a 32-bit signed integer")
            tokens.append(Token("int", raw, number, pos))
        elif kind == "word":
            upper = raw.upper()
            if upper in KEYWORDS:
                tokens.append(Token("kw", upper, upper, pos))
            else:
                tokens.append(Token("word", raw, raw, pos))
        elif kind == "sq":
            tokens.append(Token("str", raw, _SQ_ESCAPE.sub("'", raw[1:-1]), pos))
        elif kind == "dq":
            tokens.append(Token("str", raw, _DQ_ESCAPE.sub('"', raw[1:-1]), pos))
        elif kind == "op":
            tokens.append(Token("op", raw, raw, pos))
        pos = m.end()
    tokens.append(Token("eof", "", "", end))
    return tokens


# --- parser ----------------------------------------------------------------------------


class _Parser:
    __slots__ = ("end", "i", "text", "tokens")

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.end = 0  # where the last token taken ends: the end of the node just parsed

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
            self.end = tok.offset + len(tok.text)
        return tok

    def start(self) -> int:
        """Where the next node starts (the offset of the next token)."""
        return self.tokens[self.i].offset

    def span(self, start: int) -> Span:
        return (start, self.end)

    def fail(self, tok: Token, expected: str) -> CesqlParseError:
        found = "end of expression" if tok.kind == "eof" else repr(tok.text)
        return _error(self.text, tok.offset, f"expected {expected}, found {found}")

    def is_op(self, text: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == "op" and tok.text == text

    def is_kw(self, text: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.kind == "kw" and tok.text == text

    def expect_op(self, text: str) -> None:
        if not self.is_op(text):
            raise self.fail(self.peek(), f"{text!r}")
        self.next()

    def parse(self) -> Node:
        if self.peek().kind == "eof":
            raise self.fail(self.peek(), "an expression")
        node = self.logic()
        if self.peek().kind != "eof":
            raise self.fail(self.peek(), "an operator or the end of the expression")
        return node

    def logic(self) -> Node:
        start = self.start()
        left = self.comparison()
        while self.peek().kind == "kw" and self.peek().text in LOGIC_OPS:
            op = self.next().text
            left = Binary(op, left, self.comparison(), span=self.span(start))
        return left

    def comparison(self) -> Node:
        start = self.start()
        left = self.additive()
        while self.peek().kind == "op" and self.peek().text in COMPARISON_OPS:
            op = self.next().text
            left = Binary(op, left, self.additive(), span=self.span(start))
        return left

    def additive(self) -> Node:
        start = self.start()
        left = self.multiplicative()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            op = self.next().text
            left = Binary(op, left, self.multiplicative(), span=self.span(start))
        return left

    def multiplicative(self) -> Node:
        start = self.start()
        left = self.postfix()
        while self.peek().kind == "op" and self.peek().text in ("*", "/", "%"):
            op = self.next().text
            left = Binary(op, left, self.postfix(), span=self.span(start))
        return left

    def postfix(self) -> Node:
        start = self.start()
        node = self.unary()
        while True:
            negated = False
            if self.is_kw("NOT") and (self.is_kw("LIKE", 1) or self.is_kw("IN", 1)):
                self.next()
                negated = True
            if self.is_kw("LIKE"):
                self.next()
                tok = self.next()
                if tok.kind != "str":
                    raise self.fail(tok, "a string literal pattern after LIKE")
                node = Like(node, str(tok.value), negated, span=self.span(start))
            elif self.is_kw("IN"):
                self.next()
                node = In(node, self.set_expression(), negated, span=self.span(start))
            else:
                return node

    def set_expression(self) -> tuple[Node, ...]:
        self.expect_op("(")
        items = [self.logic()]
        while self.is_op(","):
            self.next()
            items.append(self.logic())
        self.expect_op(")")
        return tuple(items)

    def unary(self) -> Node:
        start = self.start()
        if self.is_kw("NOT"):
            self.next()
            return Unary("NOT", self.unary(), span=self.span(start))
        if self.is_op("-"):
            self.next()
            return Unary("-", self.unary(), span=self.span(start))
        if self.is_kw("EXISTS"):
            self.next()
            tok = self.next()
            if tok.kind != "word" or not _IDENTIFIER.fullmatch(tok.text):
                raise self.fail(tok, "an attribute name after EXISTS")
            return Exists(tok.text.lower(), span=self.span(start))
        return self.primary()

    def primary(self) -> Node:
        tok = self.next()
        if tok.kind in ("int", "str"):
            return Literal(tok.value, span=self.span(tok.offset))
        if tok.kind == "kw" and tok.text in ("TRUE", "FALSE"):
            return Literal(tok.text == "TRUE", span=self.span(tok.offset))
        if tok.kind == "op" and tok.text == "(":
            node = self.logic()
            self.expect_op(")")
            return node
        if tok.kind == "word":
            if self.is_op("("):
                if not _FUNCTION.fullmatch(tok.text):
                    raise _error(self.text, tok.offset, f"invalid function name {tok.text!r}")
                self.next()
                args: list[Node] = []
                if not self.is_op(")"):
                    args.append(self.logic())
                    while self.is_op(","):
                        self.next()
                        args.append(self.logic())
                self.expect_op(")")
                return Call(tok.text.upper(), tuple(args), span=self.span(tok.offset))
            if not _IDENTIFIER.fullmatch(tok.text):
                raise _error(self.text, tok.offset, f"invalid attribute name {tok.text!r}")
            return Identifier(tok.text.lower(), span=self.span(tok.offset))
        raise self.fail(tok, "a literal, an attribute name, a function call or '('")


def parse(text: str) -> Node:
    """The syntax tree of ``text``; raises :class:`CesqlParseError` (with line:column)."""
    return _Parser(text).parse()
