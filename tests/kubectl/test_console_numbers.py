"""A Trigger's and a Subscription's numbers against known traffic: subscribers that fail a
known number of times give the ``retries`` and ``failed`` counts, and the rates of the last
minute (``rates.perSecond``) add up to the counts while the consumer is younger than a
minute. The console shows the rates beside each Trigger and Subscription in the graph and the
counts in their details (Playwright driving Debian's Chromium, as in test_console.py)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..e2e.e2e_support import KawaProcess
from ..waiting import wait_until
from .kubectl_support import Api, Kubectl
from .sinks import Answer, Received, Sink, post
from .test_console import _console_url, _wait_ready, browser, page, playwright_sync

pytestmark = pytest.mark.slow
__all__ = ["browser", "page"]  # the browser fixtures, shared with test_console.py

NAMESPACE = "console-rates"
FAILS = {"ok": 0, "flaky": 2, "broken": 99}
"""How many times the subscribers answer 500 to an event, by its subject."""
MANIFEST = """\
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: {ns}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: flaky
  namespace: {ns}
spec:
  broker: default
  subscriber:
    uri: {subscriber}
  delivery:
    retry: 2
    backoffPolicy: linear
    backoffDelay: PT0.05S
    deadLetterSink:
      uri: {dead_letters}
---
apiVersion: messaging.knative.dev/v1
kind: Channel
metadata:
  name: orders
  namespace: {ns}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata:
  name: flaky-sub
  namespace: {ns}
spec:
  channel:
    apiVersion: messaging.knative.dev/v1
    kind: Channel
    name: orders
  subscriber:
    uri: {subscriber}
  delivery:
    retry: 1
    backoffPolicy: linear
    backoffDelay: PT0.05S
"""


def _failing_subscriber() -> Sink:
    """Answers 500 to the first ``FAILS[subject]`` attempts of each event, 202 after."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def script(n: int, received: Received) -> Answer:
        with lock:
            key = f"{received.ce('source')} {received.ce('id')}"
            seen[key] += 1
            tries = seen[key]
        return Answer(500 if tries <= FAILS[received.ce("subject") or "ok"] else 202)

    return Sink(script)


def _send(url: str, via: str, subject: str, n: int) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "dev.kawa.rates",
        "ce-source": f"/console/rates/{via}",
        "ce-id": f"{subject}-{n}",
        "ce-subject": subject,
    }
    sent = post(url, headers, b"")
    assert sent.status == 202, sent


def _numbers(api: Api, plural: str, name: str) -> Callable[[], dict[str, Any]]:
    def get() -> dict[str, Any]:
        answer = api.request(
            "GET", f"/console/numbers/namespaces/{NAMESPACE}/{plural}/{name}", content_type=None
        )
        assert answer.status == 200, answer
        found: dict[str, Any] = answer.json()
        return found

    return get


def _settle(numbers: Callable[[], dict[str, Any]], expected: dict[str, Any]) -> dict[str, Any]:
    last: list[dict[str, Any]] = [{}]

    def reached() -> bool:
        last[0] = numbers()
        return {name: last[0].get(name) for name in expected} == expected

    try:
        wait_until(reached, 30, "the numbers never settled", every=0.2)
    except AssertionError:
        assert {name: last[0].get(name) for name in expected} == expected
        raise
    return last[0]


def _rates_add_up(found: dict[str, Any]) -> None:
    """Over a window that reaches back to the consumer's start (under a minute ago), each
    rate times the window is the count."""
    rates = found["rates"]
    seconds = rates["windowSeconds"]
    assert seconds > 0, found
    for name in ("delivered", "failed", "retries", "deadLettered", "dropped", "matched"):
        over_window = rates["perSecond"][name] * seconds
        if seconds < 59:
            assert over_window == pytest.approx(found[name], abs=0.01 + 0.0005 * seconds), (
                name,
                found,
            )
        else:  # a very slow run: the window no longer reaches back to the consumer's start
            assert over_window <= found[name] + 0.05, (name, found)


def test_retries_failed_and_rates_of_a_trigger_and_a_subscription(
    kawa: KawaProcess,
    api: Api,
    kubectl: Kubectl,
    namespaces: Callable[..., str],
    tmp_path: Path,
    page: Any,
) -> None:
    subscriber, dead_letters = _failing_subscriber(), Sink()
    try:
        namespaces(NAMESPACE)
        manifest = tmp_path / "rates.yaml"
        manifest.write_text(
            MANIFEST.format(ns=NAMESPACE, subscriber=subscriber.url, dead_letters=dead_letters.url)
        )
        kubectl.ok("apply", "--filename", str(manifest))
        for ref in (
            ("broker", "default"),
            ("trigger", "flaky"),
            ("channels.messaging.knative.dev", "orders"),
            ("subscriptions.messaging.knative.dev", "flaky-sub"),
        ):
            _wait_ready(kubectl, *ref, namespace=NAMESPACE)
        channel = kubectl.json(
            "get", "channels.messaging.knative.dev", "orders", "--namespace", NAMESPACE
        )
        broker_url = kawa.broker_url("default", NAMESPACE)
        channel_url = channel["status"]["address"]["url"]
        for url, via in ((broker_url, "broker"), (channel_url, "channel")):
            for n in range(6):
                _send(url, via, "ok", n)
            for n in range(2):
                _send(url, via, "flaky", n)
            _send(url, via, "broken", 0)

        # the trigger: 2 flaky events fail twice then pass (4 retries), the broken one
        # fails its 3 attempts (2 retries) and is dead-lettered
        trigger = _settle(
            _numbers(api, "triggers", "flaky"),
            {
                "running": True,
                "broker": "default",
                "matched": 9,
                "delivered": 8,
                "failed": 1,
                "retries": 6,
                "deadLettered": 1,
                "dropped": 0,
                "backlog": 0,
            },
        )
        _rates_add_up(trigger)
        assert len(dead_letters.wait(count=1)) == 1
        # the subscription (retry 1, no dead-letter sink): the flaky events fail both their
        # attempts, and so does the broken one: 3 retries, 3 failed and kept in the
        # dead-letter store
        subscription = _settle(
            _numbers(api, "subscriptions", "flaky-sub"),
            {
                "running": True,
                "channel": "orders",
                "matched": 9,
                "delivered": 6,
                "failed": 3,
                "retries": 3,
                "deadLettered": 3,
                "dropped": 0,
                "backlog": 0,
            },
        )
        _rates_add_up(subscription)
    finally:
        subscriber.close()
        dead_letters.close()

    missing = api.request(
        "GET", f"/console/numbers/namespaces/{NAMESPACE}/subscriptions/nope", content_type=None
    )
    assert missing.status == 404, missing
    assert missing.json()["message"] == f"subscription {NAMESPACE}/nope not found", missing
    other = api.request(
        "GET", f"/console/numbers/namespaces/{NAMESPACE}/brokers/default", content_type=None
    )
    assert other.status == 404, other

    # the graph shows each one's rates beside it, its details the counts
    page.goto(_console_url(kawa) + "#token=" + api.token)
    expect = playwright_sync.expect
    for kind, name, counts in (
        ("Trigger", "flaky", {"failed": "1", "retries": "6"}),
        ("Subscription", "flaky-sub", {"failed": "3", "retries": "3"}),
    ):
        node = page.locator(
            f'svg .node[data-kind="{kind}"][data-namespace="{NAMESPACE}"][data-name="{name}"]'
        )
        rate = node.locator("text.rate")
        expect(rate).to_have_attribute("data-running", "yes")
        expect(rate).to_have_attribute("data-failed", counts["failed"])
        expect(rate).to_have_attribute("data-retries", counts["retries"])
        expect(rate).to_contain_text("/s delivered")
        node.click()
        for field, value in counts.items():
            expect(page.locator(f'#numbers dd[data-number="{field}"]')).to_have_text(value)
        expect(page.locator('#numbers dd[data-number="rates"]')).to_contain_text("delivered")
