"""The ``cesql`` filter dialect: a CloudEvents SQL expression that must evaluate to true.

The expression is compiled once (and cached by its text: the API server compiles it at
admission, the data plane again per trigger); per event only the compiled closure runs. An
evaluation error means "no match", as Knative's CESQL filter does.
"""

from __future__ import annotations

import functools

from kawa.cesql import Expression, compile_expression
from kawa.filters.base import Filter


@functools.lru_cache(maxsize=1024)
def compiled(expression: str) -> Expression:
    return compile_expression(expression)


def cesql_filter(expression: str) -> Filter:
    return compiled(expression).matches
