"""Benchmark: CESQL evaluations per second, compiled closures vs the AST walker.

Evaluates one expression (by default the typical trigger filter
``type = 'com.example.order.created' AND source LIKE '/orders/%' AND exint > 10``) against
a matching and a non-matching event, ``--iterations`` times each, best of ``--repeat`` runs.
Measures :meth:`kawa.cesql.Expression.matches` (the trigger filter path),
:meth:`~kawa.cesql.Expression.evaluate` and :func:`kawa.cesql.evaluate_ast`. Not run by the
test suite::

    .venv/bin/python bench/cesql_eval.py --iterations 200000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from kawa.cesql import compile_expression, evaluate_ast
from kawa.cloudevents import CloudEvent

DEFAULT_EXPRESSION = "type = 'com.example.order.created' AND source LIKE '/orders/%' AND exint > 10"

EVENTS = (
    CloudEvent(
        {
            "specversion": "1.0",
            "id": "a1",
            "source": "/orders/17",
            "type": "com.example.order.created",
            "exint": 42,
        }
    ),
    CloudEvent(
        {
            "specversion": "1.0",
            "id": "a2",
            "source": "/payments/3",
            "type": "com.example.order.created",
            "exint": 42,
        }
    ),
)


def measure(fn: Callable[[CloudEvent], object], iterations: int, repeat: int) -> float:
    """Best evaluations per second of ``fn`` over the benchmark events."""
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        for event in EVENTS:
            for _ in range(iterations):
                fn(event)
        elapsed = time.perf_counter() - start
        best = max(best, iterations * len(EVENTS) / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expression", default=DEFAULT_EXPRESSION)
    parser.add_argument("--iterations", type=int, default=200_000, help="per event and run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is reported")
    args = parser.parse_args()

    expression = compile_expression(args.expression)
    text: str = args.expression
    rows = [
        ("compiled matches()", measure(expression.matches, args.iterations, args.repeat)),
        ("compiled evaluate()", measure(expression.evaluate, args.iterations, args.repeat)),
        (
            "AST walker evaluate_ast()",
            measure(lambda ev: evaluate_ast(text, ev), args.iterations, args.repeat),
        ),
    ]
    print(f"expression: {text}")
    for name, rate in rows:
        print(f"{name:<28} {rate:>12,.0f} evaluations/s")
    print(f"compiled matches() is {rows[0][1] / rows[2][1]:.1f}x the AST walker")


if __name__ == "__main__":
    main()
