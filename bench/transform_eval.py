"""Benchmark: the per-event cost of an EventTransform's JSONata expression (jsonata-python).

Runs Knative's documented expressions (field extraction, enrichment, format conversion) and
an identity ``$`` on one JSON event, ``--iterations`` times each, best of ``--repeat`` runs,
and reports microseconds per event for each stage a request of the data plane pays:

* ``apply``: :func:`kawa.transform.apply` -- the event to JSON, the expression, the result
  checked and turned into a CloudEvent (what :mod:`kawa.eventtransform.handler` calls);
* ``evaluate``: the expression alone on prepared input (the library's own cost);
* ``bounds``: what kawa's per-evaluation bounds hooks add to ``evaluate`` (the library
  alone, its input check off as kawa runs it, subtracted);
* ``compile``: parsing the expression (paid once per expression text, not per event).

Not run by the test suite::

    .venv/bin/python bench/transform_eval.py --iterations 2000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import jsonata

from kawa import transform
from kawa.cloudevents import CloudEvent

EXPRESSIONS = {
    "identity": "$",
    "field-extraction": """{
        "specversion": "1.0", "id": id, "type": "user.extracted",
        "source": "transform.user-extractor", "time": time, "userid": data.user.id, "data": $
    }""",
    "enrichment": """{
        "specversion": "1.0", "id": id, "type": type, "source": source, "time": time,
        "environment": "production", "region": "us-west-1", "data": $
    }""",
    "format-conversion": """{
        "specversion": "1.0", "id": id, "type": "order.converted",
        "source": "transform.format-converter", "time": time,
        "data": {
          "orderId": data.id,
          "customer": {"name": data.user.fullName, "email": data.user.email},
          "items": data.items
        }
    }""",
}

EVENT = CloudEvent(
    {
        "specversion": "1.0",
        "id": "a1",
        "source": "/orders/17",
        "type": "com.example.order.created",
        "time": "2025-01-02T03:04:05Z",
        "datacontenttype": "application/json",
    },
    b'{"id": "o-17", "user": {"id": "u-7", "fullName": "Ada Lovelace", "email": "ada@x.io"},'
    b' "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}, {"sku": "c", "qty": 3}]}',
)


def best(fn: Callable[[], object], iterations: int, repeat: int) -> float:
    """Best microseconds per call over ``repeat`` runs of ``iterations`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(iterations):
            fn()
        times.append((time.perf_counter() - start) / iterations)
    return min(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, r = args.iterations, args.repeat
    prepared = transform.event_input(EVENT)
    print(f"{'expression':<20}{'apply':>10}{'evaluate':>10}{'bounds':>10}{'compile':>10}  us")
    for name, text in EXPRESSIONS.items():
        compiled = transform.compile_expression(text)
        bare = jsonata.Jsonata(text)  # the library alone: no bounds hooks
        bare.set_validate_input(False)  # as kawa runs it

        def apply(c: transform.Expression = compiled) -> object:
            return transform.apply(c, EVENT)

        def evaluate(c: transform.Expression = compiled) -> object:
            return c.evaluate(prepared)

        def unbounded(b: jsonata.Jsonata = bare) -> object:
            return b.evaluate(prepared)

        def compile_(t: str = text) -> object:
            return transform.compile_expression(t)

        apply_us, eval_us = best(apply, n, r), best(evaluate, n, r)
        bare_us, compile_us = best(unbounded, n, r), best(compile_, max(n // 10, 1), r)
        print(
            f"{name:<20}{apply_us:>10.1f}{eval_us:>10.1f}{eval_us - bare_us:>10.1f}"
            f"{compile_us:>10.1f}"
        )


if __name__ == "__main__":
    main()
