"""One JSONata expression, parsed once and evaluated many times within bounds.

:func:`compile_expression` wraps ``jsonata-python``'s parser: a syntax error becomes an
:class:`ExpressionError` with the parser's position (the character offset it reports, as
JSONata's own implementations do), its message and its error code (``S0201``...). An
:class:`Expression` evaluates on plain JSON data; whatever goes wrong in the library while it
runs (JSONata's own ``D``/``T`` errors, and any exception of the port, which has a few
``ValueError``s of its own) becomes an :class:`EvaluationError`, so that a caller never sees
the library's exceptions. Each evaluation is bounded: at most :data:`MAX_SECONDS` of CPU time
in the evaluator and :data:`MAX_DEPTH` nested evaluations (an expression looping forever
through tail calls, or recursing without end, fails instead of holding the event loop). The
library's own time limit counts from the compile, not from each evaluation, so kawa keeps the
bounds itself (:class:`_Bounds`, the library's evaluation hooks).

Thread-safe: the evaluations of one :class:`Expression` take turns (the data plane runs them in
worker threads, :mod:`kawa.eventtransform.handler`, since one built-in call, such as a
regular expression on hostile data, can run far past the bounds, which are checked between
evaluation steps).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Final

from kawa.errors import KawaError

_RECURSION_LIMIT: Final = sys.getrecursionlimit()
import jsonata  # noqa: E402

# jsonata-python raises the whole process's recursion limit to 10,000 when it is imported (as
# JavaScript's); kawa keeps Python's: other parsers (CESQL) rely on it to refuse too deep
# input quickly, and the evaluator here is bounded by MAX_DEPTH anyway.
sys.setrecursionlimit(_RECURSION_LIMIT)

MAX_SECONDS: Final = 1.0
"""Seconds one evaluation may run before it fails (JSONata's ``D1012``)."""
MAX_DEPTH: Final = 200
"""Nested evaluations one evaluation may reach (JSONata's ``D1011``); well below Python's
recursion limit, which each level uses several frames of."""


class ExpressionError(KawaError):
    """An expression that does not parse: the parser's ``message``, ``position`` (a character
    offset into the expression; -1 when it names none) and JSONata error ``code``."""

    def __init__(self, message: str, position: int, code: str) -> None:
        self.message = message
        self.position = position
        self.code = code
        where = f" at position {position}" if position >= 0 else ""
        super().__init__(f"{message}{where} (JSONata {code})" if code else f"{message}{where}")


class EvaluationError(KawaError):
    """An evaluation that failed: what JSONata (or the library) said."""


class _Bounds:
    """Per-evaluation limits, checked on each evaluation step (the library's hooks)."""

    __slots__ = ("deadline", "depth")

    def __init__(self) -> None:
        self.deadline = 0.0
        self.depth = 0

    def start(self) -> None:
        self.deadline = time.perf_counter() + MAX_SECONDS
        self.depth = 0

    def enter(self, expr: Any, input: Any, env: Any) -> None:
        if env.is_parallel_call:
            return
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise jsonata.JException("D1011", -1)
        if time.perf_counter() > self.deadline:
            raise jsonata.JException("D1012", -1, int(MAX_SECONDS * 1000))

    def leave(self, expr: Any, input: Any, env: Any, result: Any) -> None:
        if not env.is_parallel_call:
            self.depth -= 1


class Expression:
    """A parsed JSONata expression (:func:`compile_expression`); :meth:`evaluate` runs it."""

    __slots__ = ("_bounds", "_compiled", "_one_at_a_time", "text")

    def __init__(self, text: str, compiled: jsonata.Jsonata) -> None:
        self.text = text
        self._compiled = compiled
        self._bounds = _Bounds()
        self._one_at_a_time = threading.Lock()
        """The bounds are per evaluation: evaluations of one expression (in worker threads)
        take turns."""
        # the input is plain JSON data (kawa decoded it): the library's walk checking that
        # it is costs more than a simple expression does
        compiled.set_validate_input(False)
        environment = compiled.environment
        environment.set_evaluate_entry_callback(self._bounds.enter)
        environment.set_evaluate_exit_callback(self._bounds.leave)

    def evaluate(self, value: Any) -> Any:
        """The expression's result on ``value`` (plain JSON data: dicts, lists, strings,
        numbers, booleans, ``None``; not checked); ``None`` when it yields nothing. Raises
        :class:`EvaluationError`, never the library's own exceptions."""
        with self._one_at_a_time:
            return self._evaluate(value)

    def _evaluate(self, value: Any) -> Any:
        self._bounds.start()
        try:
            return self._compiled.evaluate(value)
        except jsonata.JException as err:
            raise EvaluationError(f"{err} (JSONata {err.error})") from None
        except RecursionError:
            raise EvaluationError("the expression recursed too deeply") from None
        except Exception as err:  # the port raises plain Python errors for some inputs
            raise EvaluationError(f"{type(err).__name__}: {err}") from None

    def literal_field(self, name: str) -> str | None:
        """The string the expression always gives its result's top-level field ``name``,
        when it says so literally (an object constructor ``{"type": "order.done", ...}`` as
        the whole expression); ``None`` otherwise (computed, or not set). Read from the parsed
        expression, never by evaluating it (the loop analysis, :mod:`kawa.loops`, asks)."""
        ast = getattr(self._compiled, "ast", None)
        if getattr(ast, "type", None) != "unary" or getattr(ast, "value", None) != "{":
            return None
        for pair in getattr(ast, "lhs_object", None) or ():
            key, value = pair
            if getattr(key, "type", None) == "string" and getattr(key, "value", None) == name:
                if getattr(value, "type", None) == "string" and isinstance(value.value, str):
                    return value.value
                return None
        return None

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def without_line_comments(text: str) -> str:
    """``text`` with every line whose first non-blank character is ``#`` blanked (the same
    length: a parser's positions still point into ``text``). Knative's documented examples
    open their expressions with such lines (``# Request transformation``); JSONata itself
    knows only ``/* ... */`` comments."""
    lines = text.split("\n")
    return "\n".join(" " * len(line) if line.lstrip().startswith("#") else line for line in lines)


def compile_expression(text: str) -> Expression:
    """``text`` parsed (``#`` comment lines left out: :func:`without_line_comments`); raises
    :class:`ExpressionError` saying where and why it does not."""
    source = without_line_comments(text)
    if not source.strip():
        raise ExpressionError("the expression is empty", -1, "")
    try:
        compiled = jsonata.Jsonata(source)
    except jsonata.JException as err:
        raise ExpressionError(str(err), err.location, err.error) from None
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply", -1, "") from None
    except Exception as err:  # the port's tokenizer raises plain Python errors on some input
        raise ExpressionError(f"{type(err).__name__}: {err}", -1, "") from None
    return Expression(text, compiled)
