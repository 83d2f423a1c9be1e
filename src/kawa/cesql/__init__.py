"""CloudEvents SQL (CESQL v1.0.0): parse, compile and evaluate filter expressions.

Knative Triggers accept ``filters: - cesql: "<expression>"``. :func:`compile_expression`
parses once (raising :class:`CesqlParseError` with the line:column of the problem) and
returns an :class:`Expression` whose :meth:`~Expression.matches` is the trigger filter rule
(Boolean true without error) and whose :meth:`~Expression.evaluate` returns the spec's
value-plus-errors :class:`Result`. :func:`evaluate_ast` is a plain tree-walking evaluator of
the same semantics, kept as the benchmark baseline. See docs/cesql.md.

Used by kawa.filters (trigger filters), kawa.apis (admission) and the CLI.
"""

from kawa.cesql.compiler import Expression, Result, compile_expression
from kawa.cesql.errors import CesqlError, CesqlParseError
from kawa.cesql.interpreter import evaluate_ast

__all__ = [
    "CesqlError",
    "CesqlParseError",
    "Expression",
    "Result",
    "compile_expression",
    "evaluate_ast",
]
