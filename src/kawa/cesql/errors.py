"""The errors of CloudEvents SQL (CESQL v1, section 3.3).

:class:`CesqlError` is what callers see: a :class:`kawa.errors.ValidationError` carrying the
spec's error ``kind`` (``parse``, ``math``, ``cast``, ``missingAttribute``,
``missingFunction``, ``functionEvaluation``, ``generic``). :class:`CesqlParseError` is raised
by :func:`kawa.cesql.compile_expression`; evaluation errors are *returned* in a
:class:`kawa.cesql.Result`, never raised.

:class:`Failure` is internal to the evaluators: a cheap exception that unwinds the evaluation
of one event when an error occurs (the evaluators turn it into a :class:`CesqlError`).
"""

from __future__ import annotations

from typing import Final

from kawa.errors import FieldError, ValidationError

KINDS: Final = frozenset(
    {
        "parse",
        "math",
        "cast",
        "missingAttribute",
        "missingFunction",
        "functionEvaluation",
        "generic",
    }
)

Value = bool | int | str
"""A CESQL value: Boolean, Integer (int32) or String."""


class CesqlError(ValidationError):
    """One CESQL error; ``kind`` is one of :data:`KINDS`."""

    def __init__(self, kind: str, message: str, *, path: str = "") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown CESQL error kind {kind!r}")
        self.kind = kind
        self.message = message
        super().__init__([FieldError(path, f"{kind} error: {message}")], subject="CESQL expression")


class CesqlParseError(CesqlError):
    """The expression text is not valid CESQL; the message names the 1-based line:column."""

    def __init__(self, message: str, *, line: int, column: int, path: str = "") -> None:
        self.line = line
        self.column = column
        super().__init__("parse", f"{message} at {line}:{column}", path=path)


class Failure(Exception):
    """An evaluation error in flight: unwinds to the evaluator's entry point.

    ``value`` is the value the failing function still returns (``LEFT('abc', -2)`` is
    ``'abc'``), ``None`` when it is the zero value; ``origin`` is the node that failed.
    """

    __slots__ = ("kind", "message", "origin", "value")

    def __init__(
        self, kind: str, message: str, value: Value | None = None, origin: object = None
    ) -> None:
        self.kind = kind
        self.message = message
        self.value = value
        self.origin = origin

    def to_error(self) -> CesqlError:
        return CesqlError(self.kind, self.message)
