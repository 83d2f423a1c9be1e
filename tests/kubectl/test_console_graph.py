"""The console's graph of channels and sources, and a channel's lineage, in a real browser
(Playwright driving Debian's Chromium, as in test_console.py).

A Channel's Subscriptions hang off it, each with an edge to its URI subscriber (a node of its
own, named by the URI) and a dashed reply edge to the Broker it replies to; a PingSource has
an edge to the Broker it sinks to; a Trigger with a CESQL filter shows it in its details (and
its node's tooltip). An event posted to the Channel appears live and a click shows its
lineage: accepted, then each Subscription's attempt and delivery. With
``KAWA_DOCS_SCREENSHOTS=1`` the test writes docs/images/console-channel.png.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..e2e.e2e_support import KawaProcess
from .kubectl_support import Api, Kubectl
from .sinks import Sink, post
from .test_console import _console_url, _wait_ready, browser, page, playwright_sync

pytestmark = pytest.mark.slow
__all__ = ["browser", "page"]  # the browser fixtures, shared with test_console.py

SHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "console-channel.png"
NAMESPACE = "console-graph"
CESQL = "type = 'dev.kawa.graph' AND source LIKE '/graph/%'"
MANIFEST = """\
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: {ns}
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: every-minute
  namespace: {ns}
spec:
  schedule: "0 0 1 1 *"
  data: '{{"ping": true}}'
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: graph-only
  namespace: {ns}
spec:
  broker: default
  filters:
    - cesql: "{cesql}"
  subscriber:
    uri: {trigger_sink}
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
  name: to-sink
  namespace: {ns}
spec:
  channel:
    apiVersion: messaging.knative.dev/v1
    kind: Channel
    name: orders
  subscriber:
    uri: {subscription_sink}
  reply:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
"""


def _edge(page: Any, source: str, target: str) -> Any:
    return page.locator(f'svg path.edge[data-from="{source}"][data-to="{target}"]')


def test_channel_subscriptions_uri_sinks_sources_and_cesql_in_the_graph(
    kawa: KawaProcess,
    api: Api,
    kubectl: Kubectl,
    namespaces: Callable[..., str],
    sinks: Callable[..., Sink],
    tmp_path: Path,
    page: Any,
) -> None:
    trigger_sink, subscription_sink = sinks(), sinks()
    namespaces(NAMESPACE)
    manifest = tmp_path / "graph.yaml"
    manifest.write_text(
        MANIFEST.format(
            ns=NAMESPACE,
            cesql=CESQL,
            trigger_sink=trigger_sink.url,
            subscription_sink=subscription_sink.url,
        )
    )
    kubectl.ok("apply", "--filename", str(manifest))
    for ref in (
        ("broker", "default"),
        ("trigger", "graph-only"),
        ("channels.messaging.knative.dev", "orders"),
        ("subscriptions.messaging.knative.dev", "to-sink"),
    ):
        _wait_ready(kubectl, *ref, namespace=NAMESPACE)

    page.goto(_console_url(kawa) + "#token=" + api.token)
    expect = playwright_sync.expect
    broker = f"Broker/{NAMESPACE}/default"
    channel = f"Channel/{NAMESPACE}/orders"
    subscription = f"Subscription/{NAMESPACE}/to-sink"
    trigger = f"Trigger/{NAMESPACE}/graph-only"
    # the channel's subscription, its URI subscriber and its reply to the broker
    expect(_edge(page, channel, subscription)).to_have_count(1)
    uri_node = page.locator(f'svg .node[data-kind="URI"][data-name="{subscription_sink.url}"]')
    expect(uri_node).to_have_count(1)
    expect(_edge(page, subscription, f"URI//{subscription_sink.url}")).to_have_count(1)
    reply = _edge(page, subscription, broker)
    expect(reply).to_have_count(1)
    expect(reply).to_have_class("edge reply")
    # the source and the trigger: PingSource -> broker -> trigger -> its URI
    expect(_edge(page, f"PingSource/{NAMESPACE}/every-minute", broker)).to_have_count(1)
    expect(_edge(page, broker, trigger)).to_have_count(1)
    expect(_edge(page, trigger, f"URI//{trigger_sink.url}")).to_have_count(1)
    # the InMemoryChannel that backs the Channel is drawn as the Channel (URIs have no
    # namespace)
    kinds = page.locator(f'svg .node[data-namespace="{NAMESPACE}"]')
    expect(kinds).to_have_count(5)
    assert sorted(kinds.evaluate_all("nodes => nodes.map(n => n.dataset.kind)")) == [
        "Broker",
        "Channel",
        "PingSource",
        "Subscription",
        "Trigger",
    ]

    # a URI node's details say what it is; the source's show its sink; the trigger's its filter
    uri_node.click()
    expect(page.locator("#details-title")).to_have_text(f"URI {subscription_sink.url}")
    expect(page.locator("#object")).to_contain_text(subscription_sink.url)
    page.locator(
        f'svg .node[data-kind="PingSource"][data-namespace="{NAMESPACE}"][data-name="every-minute"]'
    ).click()
    expect(page.locator("#details-title")).to_have_text(f"PingSource {NAMESPACE}/every-minute")
    expect(page.locator("#object")).to_contain_text('schedule: "0 0 1 1 *"')
    expect(page.locator("#object")).to_contain_text(
        "sinkUri: " + kawa.broker_url("default", NAMESPACE)
    )
    expect(page.locator("#details-filter")).to_be_hidden()
    trigger_node = page.locator(
        f'svg .node[data-kind="Trigger"][data-namespace="{NAMESPACE}"][data-name="graph-only"]'
    )
    expect(trigger_node.locator("title").first).to_contain_text(f"filter: cesql({CESQL})")
    trigger_node.click()
    expect(page.locator("#details-filter")).to_have_text(f"Filter: cesql({CESQL})")
    page.locator(f'svg .node[data-kind="Broker"][data-namespace="{NAMESPACE}"]').click()
    expect(page.locator("#details-filter")).to_be_hidden()

    # the channel's live events, and an event's lineage through its subscription
    page.locator(
        f'svg .node[data-kind="Channel"][data-namespace="{NAMESPACE}"][data-name="orders"]'
    ).click()
    page.locator("#live-type").fill("")
    page.locator("#watch-broker").click()
    expect(page.locator("#live-status")).to_have_attribute(
        "data-watching", f"channels/{NAMESPACE}/orders"
    )
    url = kubectl.json("get", "channels.messaging.knative.dev", "orders", "--namespace", NAMESPACE)[
        "status"
    ]["address"]["url"]
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "dev.kawa.graph.order",
        "ce-source": "/graph/channel",
        "ce-id": "through-the-channel",
    }
    sent = post(url, headers, b"")
    assert sent.status == 202, sent
    page.locator('#events tbody tr[data-id="through-the-channel"]').click()
    expect(page.locator("#lineage-status")).to_have_attribute("data-settled", "yes")
    expect(page.locator("#lineage-status")).to_contain_text(f"Channel {NAMESPACE}/orders")
    expect(page.locator('#lineage li[data-what="accepted"]')).to_have_count(1)
    attempt = page.locator('#lineage li[data-what="attempt"][data-subscription="to-sink"]')
    expect(attempt).to_have_attribute("data-status", "202")
    expect(attempt).to_contain_text(
        f"subscription to-sink: delivery attempt 1 to {subscription_sink.url}"
    )
    expect(
        page.locator('#lineage li[data-what="delivered"][data-subscription="to-sink"]')
    ).to_have_count(1)
    assert page.locator("#lookup-broker").input_value() == f"channels/{NAMESPACE}/orders"
    assert len(subscription_sink.wait(count=1)) == 1
    if os.environ.get("KAWA_DOCS_SCREENSHOTS"):  # docs/observability.md's third picture
        page.locator(f'svg .node[data-kind="Subscription"][data-namespace="{NAMESPACE}"]').click()
        expect(page.locator('#numbers dd[data-number="delivered"]')).to_have_text("1")
        page.screenshot(path=str(SHOT), full_page=True)
