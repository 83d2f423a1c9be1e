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
from ..channels.channel_support import channel_url, imc, put_channel, send, sub
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
            backlogs = [
                value(samples, "kawa_consumer_backlog", name=n) for n in ("failing", "orders")
            ]
            return samples if done == orders + refunds and backlogs == [0, 0] else None

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

    sent = orders + refunds
    dispatch = "mt_broker_filter_event_count_total"
    assert value(samples, dispatch, **at, trigger_name="orders", **ok) == orders
    assert value(samples, dispatch, trigger_name="orders", response_code="500") is None
    failed = {"response_code": "500", "response_code_class": "5xx"}
    assert value(samples, dispatch, **at, trigger_name="failing", **failed) == orders + refunds
    assert value(samples, "mt_broker_filter_event_dispatch_latencies_count",
                 trigger_name="failing", response_code="500") == orders + refunds  # fmt: skip

    # from stored to the delivery's start, for what each trigger's filter passed; by the
    # type the filter asks for (Knative's filter_type, "any" without one)
    processing = "mt_broker_filter_event_processing_latencies_count"
    assert value(samples, processing, **at, trigger_name="orders", filter_type="order") == orders
    assert value(samples, processing, trigger_name="failing", filter_type="any") == sent
    assert value(samples, "mt_broker_filter_event_processing_latencies_bucket",
                 trigger_name="orders", le="+Inf") == orders  # fmt: skip

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


async def test_channel_and_subscription_counters_match_the_traffic(tmp_path: Path) -> None:
    """A channel's ingress (Knative has no multi-tenant channel name: ``kawa_channel_*``) and
    its subscribers' deliveries (``inmemorychannel_dispatcher_*``, by subscriber uid), with
    kawa's per-consumer counters: retries, dead letters and replies handed on."""
    endpoint = MetricsEndpoint(port=0, backlog_interval=0.1)
    sent = 3
    reply = {"ce-specversion": "1.0", "ce-id": "answer", "ce-type": "reply", "ce-source": "/r",
             "content-type": "application/json"}  # fmt: skip
    async with (
        running_kawa(tmp_path, metrics=endpoint) as kawa,
        subscriber() as replier,
        subscriber() as downstream,
        subscriber() as broken,
        subscriber() as dls,
    ):
        replier.default = respond(200, b"{}", reply)
        broken.default = respond(500)
        delivery = {"retry": 1, "backoffDelay": "PT0.01S", "deadLetterSink": {"uri": dls.url}}
        await put_channel(
            kawa,
            imc(
                "c1",
                sub("u-replier", replier.url, downstream.url),
                sub("u-broken", broken.url, delivery=delivery),
            ),
        )
        url = metrics_url(kawa)
        for i in range(sent):
            assert await send(kawa, channel_url(kawa, "c1"), event(f"e{i}")) == 202
        assert await send(kawa, channel_url(kawa, "nope"), event("lost")) == 404
        await downstream.wait_for(sent)
        await dls.wait_for(sent)

        async def settled() -> Samples | None:
            samples = await scrape(url)
            done = value(samples, "kawa_dead_lettered_events_total", name="u-broken")
            replied = value(samples, "kawa_replies_total", name="u-replier")
            # the backlog gauge is sampled (every 0.1 s): it reaches 0 a sample after the
            # last cursor commit, which can follow the last reply counted
            backlog = value(samples, "kawa_consumer_backlog", name="u-replier")
            return samples if done == sent and replied == sent and backlog == 0 else None

        samples = await eventually(settled, 10.0, "the channel's metrics never added up")

    ingress = "kawa_channel_ingress_event_count_total"
    at = {"namespace_name": "default", "channel_name": "c1"}
    assert value(samples, ingress, **at, event_type="test.type", response_code="202") == sent
    assert value(samples, ingress, channel_name="nope", response_code="404") == 1
    dispatch = "inmemorychannel_dispatcher_event_count_total"
    assert value(samples, dispatch, **at, subscriber_uid="u-replier", response_code="200") == sent
    assert value(samples, dispatch, **at, subscriber_uid="u-broken", response_code="500") == sent
    assert value(samples, "inmemorychannel_dispatcher_event_dispatch_latencies_count",
                 subscriber_uid="u-broken", response_code="500") == sent  # fmt: skip
    mine = {"kind": "subscription", "namespace_name": "default", "parent_name": "c1"}
    assert value(samples, "kawa_delivery_retries_total", **mine, name="u-broken") == sent
    assert value(samples, "kawa_delivery_retries_total", **mine, name="u-replier") == 0
    assert value(samples, "kawa_replies_total", **mine, name="u-broken") == 0
    assert value(samples, "kawa_dead_lettered_events_total", **mine, name="u-replier") == 0
    assert value(samples, "kawa_consumer_backlog", **mine, name="u-replier") == 0
