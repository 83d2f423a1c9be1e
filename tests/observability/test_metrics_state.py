"""Measured and counted metrics against known traffic through a real kawa: a consumer's
backlog and oldest undelivered age while its subscriber holds every delivery and after, the
event log's size, the resource store's writes, a Revision's requests and instances."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from kawa.observability.endpoint import MetricsEndpoint

from ..broker.broker_support import broker, event, running_kawa, subscriber, trigger
from ..serving.serving_support import FAST_AUTOSCALER, Serving, revision_server
from ..waiting import eventually
from .test_metrics import Samples, metrics_url, scrape, value

HOLD = 1.0
"""Seconds the subscriber holds every delivery before the test looks at the gauges."""
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


async def _configmap_writes(session: aiohttp.ClientSession, url: str) -> None:
    """Three creates, two updates, one delete of ConfigMaps (what kubectl sends)."""
    for i in range(3):
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}"}}
        async with session.post(url + CONFIGMAPS, json=obj) as resp:
            assert resp.status == 201, await resp.text()
    for i in range(2):
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}"},
               "data": {"k": "v"}}  # fmt: skip
        async with session.put(f"{url}{CONFIGMAPS}/cm{i}", json=obj) as resp:
            assert resp.status == 200, await resp.text()
    async with session.delete(f"{url}{CONFIGMAPS}/cm2") as resp:
        assert resp.status == 200, await resp.text()


async def test_backlog_oldest_age_log_size_and_store_writes(tmp_path: Path) -> None:
    endpoint = MetricsEndpoint(port=0, backlog_interval=0.1)
    count = 5
    release = asyncio.Event()

    async def held(_: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(status=202)

    async with running_kawa(tmp_path, metrics=endpoint) as kawa, subscriber() as slow:
        slow.default = held
        await kawa.apply(broker())
        await kawa.apply(trigger("slow", slow.url))
        await kawa.wait_ready("Trigger", "slow")
        url = metrics_url(kawa)
        mine = {"kind": "trigger", "namespace_name": "default", "parent_name": "default",
                "name": "slow"}  # fmt: skip
        before = await scrape(url)
        writes = "kawa_store_writes_total"
        at = {"resource": "configmaps", "subresource": ""}
        base = {verb: value(before, writes, **at, verb=verb) or 0 for verb in ("create",
                "update", "delete")}  # fmt: skip
        sent = time.time()
        for i in range(count):
            assert await kawa.send(event(f"e{i}")) == 202

        async def all_in_delivery() -> bool:  # none finished: the subscriber holds them all
            return len(slow.events) == count

        await eventually(all_in_delivery, 10.0, "the events never reached the subscriber")
        await _configmap_writes(kawa.session, kawa.url)

        async def held_long_enough() -> Samples | None:
            samples = await scrape(url)
            age = value(samples, "kawa_consumer_oldest_undelivered_age_seconds", **mine)
            return samples if age is not None and age >= HOLD else None

        samples = await eventually(held_long_enough, 10.0, "the oldest age never reached HOLD")
        age = value(samples, "kawa_consumer_oldest_undelivered_age_seconds", **mine)
        assert age is not None
        assert age <= time.time() - sent + 1.0
        assert value(samples, "kawa_consumer_backlog", **mine) == count
        stream = {"kind": "broker", "namespace_name": "default", "name": "default"}
        assert value(samples, "kawa_event_log_stream_records", **stream) == count
        stream_bytes = value(samples, "kawa_event_log_stream_bytes", **stream)
        assert stream_bytes is None or stream_bytes > 0  # SQLite cannot tell cheaply
        total = value(samples, "kawa_event_log_records")
        assert total is not None
        assert total >= count
        assert (value(samples, "kawa_event_log_bytes") or 0) > 0
        for verb, made in (("create", 3), ("update", 2), ("delete", 1)):
            assert value(samples, writes, **at, verb=verb) == base[verb] + made, verb
        assert (value(samples, writes, resource="triggers.eventing.knative.dev", verb="update",
                      subresource="status") or 0) >= 1  # fmt: skip

        release.set()

        async def caught_up() -> Samples | None:
            samples = await scrape(url)
            backlog = value(samples, "kawa_consumer_backlog", **mine)
            age = value(samples, "kawa_consumer_oldest_undelivered_age_seconds", **mine)
            return samples if backlog == 0 and age == 0 else None

        samples = await eventually(caught_up, 10.0, "the consumer never caught up")
        assert value(samples, "mt_broker_filter_event_count_total", trigger_name="slow",
                     response_code="202") == count  # fmt: skip


async def test_revision_requests_and_instances(tmp_path: Path) -> None:
    endpoint = MetricsEndpoint(port=0, backlog_interval=0.1)
    requests = 4
    async with running_kawa(tmp_path, metrics=endpoint) as kawa:
        serving = Serving(kawa.url, kawa.session)
        await serving.configure("config-autoscaler", FAST_AUTOSCALER)
        await serving.create_service(
            "counted",
            revision_server(),
            metadata={"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
        )
        await serving.wait_ready("counted")
        url = metrics_url(kawa)
        for _ in range(requests):
            async with kawa.session.get(f"{kawa.url}/serving/default/counted/") as resp:
                assert resp.status == 200, await resp.text()
                assert await resp.read() == b"counted-00001"
        revision = {"namespace_name": "default", "service_name": "counted",
                    "configuration_name": "counted", "revision_name": "counted-00001"}  # fmt: skip

        async def one_instance() -> Samples | None:
            samples = await scrape(url)
            actual = value(samples, "autoscaler_actual_pods", **revision)
            desired = value(samples, "autoscaler_desired_pods", **revision)
            return samples if actual == 1 and desired == 1 else None

        samples = await eventually(one_instance, 10.0, "the Revision's instances never showed")
    ok = {"response_code": "200", "response_code_class": "2xx"}
    assert value(samples, "activator_request_count_total", **revision, **ok) == requests
    assert value(samples, "activator_request_latencies_count", **revision, **ok) == requests
    assert value(samples, "activator_request_concurrency", **revision) == 0
    assert value(samples, "kawa_revision_waiting_requests", **revision) == 0
