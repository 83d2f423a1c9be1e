"""The Prometheus endpoint against known traffic through a real kawa: the counters add up to
the events sent, delivered, filtered out, retried and dead-lettered."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from kawa.observability.endpoint import MetricsEndpoint

from ..broker.broker_support import Kawa, broker, event, respond, running_kawa, subscriber, trigger
from ..waiting import eventually

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, metric: str, /, **labels: str) -> float | None:
    """The one sample of ``metric`` whose labels include ``labels`` (None: there is none)."""
    found = [v for (n, ls), v in samples.items() if n == metric and set(labels.items()) <= ls]
    assert len(found) <= 1, (metric, labels, found)
    return found[0] if found else None


def metrics_url(kawa: Kawa) -> str:
    url = orjson.loads((kawa.data_dir / "server.json").read_bytes()).get("metricsUrl")
    assert isinstance(url, str), url
    assert url.startswith("http://127.0.0.1:"), url
    return url


async def test_counters_match_the_traffic(tmp_path: Path) -> None:
    endpoint = MetricsEndpoint(port=0, backlog_interval=0.1)
    orders, refunds = 4, 2
    async with (
        running_kawa(tmp_path, metrics=endpoint) as kawa,
        subscriber() as shop,
        subscriber() as broken,
        subscriber() as dls,
    ):
        broken.default = respond(500)
        await kawa.apply(broker())
        await kawa.apply(trigger("orders", shop.url, filter={"attributes": {"type": "order"}}))
        delivery = {
            "retry": 1,
            "backoffPolicy": "linear",
            "backoffDelay": "PT0.01S",
            "deadLetterSink": {"uri": dls.url},
        }
        await kawa.apply(trigger("failing", broken.url, delivery=delivery))
        await kawa.wait_ready("Trigger", "orders")
        await kawa.wait_ready("Trigger", "failing")
        url = metrics_url(kawa)
        for i in range(orders):
            assert await kawa.send(event(f"o{i}", type_="order")) == 202
        for i in range(refunds):
            assert await kawa.send(event(f"r{i}", type_="refund")) == 202
        assert await kawa.send(event("x", type_="order"), broker_name="nope") == 404
        await shop.wait_for(orders)
        await dls.wait_for(orders + refunds)

        async def settled() -> Samples | None:
            samples = await scrape(url)
            done = value(samples, "kawa_dead_lettered_events_total", name="failing")
            backlog = value(samples, "kawa_consumer_backlog", name="failing")
            return samples if done == orders + refunds and backlog == 0 else None

        samples = await eventually(settled, 10.0, "the metrics never added up")

    ingress = "mt_broker_ingress_event_count_total"
    at = {"namespace_name": "default", "broker_name": "default"}
    ok = {"response_code": "202", "response_code_class": "2xx"}
    assert value(samples, ingress, **at, event_type="order", **ok) == orders
    assert value(samples, ingress, **at, event_type="refund", **ok) == refunds
    assert value(samples, ingress, broker_name="nope", response_code="404") == 1
    assert value(samples, "mt_broker_ingress_event_dispatch_latencies_count", event_type="order",
                 response_code="202") == orders  # fmt: skip
    assert value(samples, "mt_broker_ingress_event_dispatch_latencies_bucket",
                 event_type="order", response_code="202", le="+Inf") == orders  # fmt: skip

    dispatch = "mt_broker_filter_event_count_total"
    assert value(samples, dispatch, **at, trigger_name="orders", **ok) == orders
    assert value(samples, dispatch, trigger_name="orders", response_code="500") is None
    failed = {"response_code": "500", "response_code_class": "5xx"}
    assert value(samples, dispatch, **at, trigger_name="failing", **failed) == orders + refunds
    assert value(samples, "mt_broker_filter_event_dispatch_latencies_count",
                 trigger_name="failing", response_code="500") == orders + refunds  # fmt: skip

    mine = {"kind": "trigger", "namespace_name": "default", "parent_name": "default"}
    assert value(samples, "kawa_filtered_out_events_total", **mine, name="orders") == refunds
    assert value(samples, "kawa_filtered_out_events_total", name="failing") == 0
    assert value(samples, "kawa_delivery_retries_total", name="failing") == orders + refunds
    assert value(samples, "kawa_delivery_retries_total", name="orders") == 0
    assert value(samples, "kawa_dead_lettered_events_total", name="orders") == 0
    assert value(samples, "kawa_dropped_events_total", name="failing") == 0
    assert value(samples, "kawa_consumer_backlog", **mine, name="orders") == 0
    assert value(samples, "process_resident_memory_bytes") is not None
    assert value(samples, "python_info") is not None


async def test_a_busy_default_port_leaves_metrics_off(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        endpoint = MetricsEndpoint(port=port, optional=True)
        async with running_kawa(tmp_path, metrics=endpoint) as kawa:
            info = orjson.loads((kawa.data_dir / "server.json").read_bytes())
            assert "metricsUrl" not in info
            await kawa.apply(broker())
            await kawa.wait_ready("Broker", "default")
            assert await kawa.send(event()) == 202
