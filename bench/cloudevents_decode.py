"""Micro-benchmark: decoding one CloudEvent from HTTP, binary and structured mode.

The broker ingress decodes every event it takes (``kawa.cloudevents.http.from_http``). For
structured mode it parses the JSON document and writes JSON ``data`` back as bytes, with the
nesting check of :mod:`kawa.nesting` riding on that write (``dumps_json``). This prints
microseconds per decode for a few event shapes, and what the check adds to the write::

    .venv/bin/python bench/cloudevents_decode.py [--rounds 7]

Run it on two checkouts (``PYTHONPATH=<other>/src``) to compare; docs/performance.md has
the numbers.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any

import orjson

from kawa import nesting
from kawa.cloudevents import http

ATTRIBUTES = {"specversion": "1.0", "id": "1", "source": "/bench", "type": "bench.event"}


def _document(data: Any) -> bytes:
    return orjson.dumps({**ATTRIBUTES, "datacontenttype": "application/json", "data": data})


def _items(n: int) -> dict[str, Any]:
    return {"items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(n)]}


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"k": value}
    return value


SHAPES: dict[str, Any] = {
    "small (2 fields)": {"msg": "hello", "n": 1},
    "100 objects (~5 KB)": _items(100),
    "10,000 objects (~500 KB)": _items(10_000),
    "nested 150 levels": _nested(150),
}


def _time(call: Callable[[], object], budget: float) -> float:
    """Microseconds per call: the best of a few timed batches of about ``budget`` seconds."""
    n = 1
    while True:
        started = time.perf_counter()
        for _ in range(n):
            call()
        took = time.perf_counter() - started
        if took > budget / 10:
            break
        n *= 4
    best = took / n
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - started) / n)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per measurement")
    args = parser.parse_args()
    binary_headers = {f"ce-{k}": v for k, v in ATTRIBUTES.items()}
    binary_headers["content-type"] = "application/json"
    structured_headers = {"content-type": http.STRUCTURED_JSON}
    print(f"{'event data':28} {'bytes':>9} {'binary µs':>10} {'structured µs':>14}")
    for name, data in SHAPES.items():
        document = _document(data)
        body = orjson.dumps(data)
        binary = _time(functools.partial(http.from_http, binary_headers, body), args.budget)
        structured = _time(
            functools.partial(http.from_http, structured_headers, document), args.budget
        )
        print(f"{name:28} {len(document):9} {binary:10.1f} {structured:14.1f}")
    data = SHAPES["small (2 fields)"]
    plain = _time(lambda: orjson.dumps(data), args.budget)
    checked = _time(lambda: nesting.dumps_json(data, 1), args.budget)
    print(f"writing small data back: orjson.dumps {plain:.2f} µs, with the check {checked:.2f} µs")


if __name__ == "__main__":
    main()
