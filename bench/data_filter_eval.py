"""Benchmark: kawa's data filter (``kawa.dev/data``) per event, beside an attributes filter.

``PYTHONPATH=src .venv/bin/python bench/data_filter_eval.py`` prints microseconds per event
(best of 5 runs of 20,000 events) for: Knative's attributes filter on ``type`` (the
reference), one numeric condition, two conditions, and a JSONPath filter over an array, all
on the same ~200-byte JSON order event. Each data filter parses the event's data once per
call (per Trigger).
"""

from __future__ import annotations

import time

import orjson

from kawa.apis.eventing.data_filter import parse_conditions
from kawa.cloudevents.event import CloudEvent
from kawa.filters.attributes import attributes_filter
from kawa.filters.data import data_filter

EVENT = CloudEvent(
    {"specversion": "1.0", "id": "1", "source": "/shop", "type": "order",
     "datacontenttype": "application/json"},
    orjson.dumps(
        {"order": {"total": 150, "currency": "EUR", "customer": "c-17"},
         "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 3}, {"sku": "c", "qty": 2}]}
    ),
)  # fmt: skip
CASES = {
    "attributes type=order (Knative)": attributes_filter({"type": "order"}),
    "$.order.total > 100": data_filter(parse_conditions("$.order.total > 100")),
    "two conditions": data_filter(
        parse_conditions('$.order.total > 100\n$.order.currency == "EUR"')
    ),
    "$.items[?(@.qty > 2)]": data_filter(parse_conditions("$.items[?(@.qty > 2)]")),
}
N = 20_000


def main() -> None:
    print(f"{'filter':<36} {'us/event':>9}")
    for name, check in CASES.items():
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(N):
                check(EVENT)
            best = min(best, (time.perf_counter() - start) / N * 1e6)
        print(f"{name:<36} {best:9.2f}")


if __name__ == "__main__":
    main()
