"""``kawa trace``'s printing: the timeline, and an answer kawa would not give as one line."""

from __future__ import annotations

from typing import Any

import pytest

from kawa.cli.client import CliError
from kawa.cli.trace import path, render

BROKER = {"namespace": "default", "name": "default", "lineage": True}
AT = "2025-01-01T00:00:00.000000Z"


def test_the_query_names_the_id_and_source() -> None:
    assert path("ns", "b", "a b", "/s") == (
        "/apis/eventing.knative.dev/v1/namespaces/ns/brokers/b/trace?id=a+b&source=%2Fs"
    )
    assert path("ns", "b", "1", None).endswith("/trace?id=1")
    assert path("ns", "c", "1", None, channel=True) == (
        "/apis/messaging.knative.dev/v1/namespaces/ns/inmemorychannels/c/trace?id=1"
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({}, "expected a broker or channel object"),
        ({"broker": BROKER, "events": [1]}, "expected an events array of objects"),
    ],
)
def test_an_unexpected_answer_is_named(answer: dict[str, Any], expected: str) -> None:
    with pytest.raises(CliError, match=f"unexpected answer to GET /trace: {expected}"):
        render(answer, "GET /trace")


def test_a_timeline() -> None:
    reason = "cast error in `int(a)`: cannot cast String 'x' to Integer (a = 'x')"
    rejection = {"path": "spec.filters[0].cesql", "reason": reason, "cesql": {}}
    steps = [
        {"at": AT, "what": "accepted", "by": "node-a/1"},
        {"at": AT, "what": "filter", "trigger": "c", "matched": False, "rejection": rejection},
        {"at": AT, "what": "filter", "trigger": "d", "matched": True},
        {"at": AT, "what": "attempt", "trigger": "d", "stage": "delivery", "attempt": 1,
         "destination": "http://s/", "status": 503, "seconds": 0.0021, "error": "HTTP 503"},
        {"at": AT, "what": "dead-lettered", "trigger": "d", "error": "HTTP 503"},
        {"at": AT, "what": "reply", "trigger": "d", "replyId": "r-1"},
    ]  # fmt: skip
    event = {"id": "1", "source": "/s", "type": "t"}
    answer = {
        "broker": BROKER,
        "events": [{"seq": 4, "event": event, "appendedAt": AT, "timeline": steps}],
    }
    assert render(answer, "x").splitlines() == [
        "Broker default/default: lineage on",
        "",
        f"Event: id=1 source=/s type=t (seq 4, stored {AT})",
        f"  {AT}  accepted by node-a/1",
        f"  {AT}  trigger c: not matched",
        f"    spec.filters[0].cesql: {reason}",
        f"  {AT}  trigger d: matched",
        f"  {AT}  trigger d: delivery attempt 1 to http://s/: HTTP 503 in 2.1 ms (HTTP 503)",
        f"  {AT}  trigger d: dead-lettered (HTTP 503)",
        f"  {AT}  trigger d: reply r-1 handed on",
    ]


def test_a_channel_timeline_names_subscriptions() -> None:
    steps = [
        {"at": AT, "what": "accepted", "by": "kawa"},
        {"at": AT, "what": "attempt", "subscription": "to-sink", "stage": "delivery",
         "attempt": 1, "destination": "http://s/", "status": 202, "seconds": 0.001},
        {"at": AT, "what": "delivered", "subscription": "to-sink"},
    ]  # fmt: skip
    answer = {
        "channel": {"namespace": "ns", "name": "orders", "lineage": True},
        "events": [{"seq": 1, "event": {"id": "1"}, "appendedAt": AT, "timeline": steps}],
    }
    lines = render(answer, "x").splitlines()
    assert lines[0] == "Channel ns/orders: lineage on"
    assert lines[-2:] == [
        f"  {AT}  subscription to-sink: delivery attempt 1 to http://s/: HTTP 202 in 1.0 ms",
        f"  {AT}  subscription to-sink: delivered",
    ]
