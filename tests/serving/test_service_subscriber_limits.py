"""A burst of events to a Trigger whose subscriber is a Knative Service that takes one request at
a time per instance (containerConcurrency 1) on at most two instances (max-scale 2): the Trigger
notes that capacity (``kawa.dev/subscriber-max-in-flight: "2"``), the dispatcher never has more
than two requests at the Service, so its router (with room for one waiting request only:
``activator-capacity: "1"``) refuses none, the burst scales the Service to its two instances,
and every event arrives with no retries and no dead letter. In flight is measured at the
Service's instances themselves (each appends to one trace file), refusals at its router
(kawa's ``activator_request_count`` by response code)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kawa.apis.limits import SUBSCRIBER_MAX_IN_FLIGHT
from kawa.observability.endpoint import MetricsEndpoint

from ..broker.broker_support import broker, event, running_kawa, subscriber, trigger
from ..observability.test_metrics import metrics_url
from ..waiting import eventually
from .serving_support import FAST_AUTOSCALER, Serving, revision_server

pytestmark = pytest.mark.slow

SENT = 30


def _most_in_flight(trace: str) -> int:
    """The most requests in flight at once in a trace of ``start <t>`` / ``end <t>`` lines."""
    moments = []
    for line in trace.splitlines():
        what, at = line.split()
        moments.append((float(at), 0 if what == "end" else 1))  # an end first at a tie
    in_flight = most = 0
    for _, starts in sorted(moments):
        in_flight += 1 if starts else -1
        most = max(most, in_flight)
    return most


async def _answers(url: str) -> dict[str, float]:
    """The router's answers to the Service's requests, by status code."""
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        text = await resp.text()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "activator_request_count_total":
                code = sample.labels["response_code"]
                found[code] = found.get(code, 0.0) + sample.value
    return found


async def test_a_burst_keeps_within_the_services_capacity_and_scales_it(tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    endpoint = MetricsEndpoint(port=0, backlog_interval=0.1)
    async with running_kawa(tmp_path, metrics=endpoint) as kawa, subscriber() as dls:
        serving = Serving(kawa.url, kawa.session)
        await serving.configure("config-autoscaler", {**FAST_AUTOSCALER, "activator-capacity": "1"})
        await serving.create_service(
            "worker",
            revision_server(DELAY="0.1", STATUS="202", TRACE=str(trace)),
            metadata={
                "annotations": {
                    "autoscaling.knative.dev/min-scale": "1",
                    "autoscaling.knative.dev/max-scale": "2",
                }
            },
            spec={"containerConcurrency": 1},
        )
        await serving.wait_ready("worker")
        await kawa.apply(broker())
        ref = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "worker"}
        await kawa.apply(
            trigger(
                "to-worker",
                "",
                subscriber={"ref": ref},
                delivery={"retry": 0, "deadLetterSink": {"uri": dls.url}},
            )
        )
        found: dict[str, Any] = await kawa.wait_ready("Trigger", "to-worker")
        assert found["status"]["annotations"][SUBSCRIBER_MAX_IN_FLIGHT] == "2"

        most_pods = 0

        async def watch_pods() -> None:
            nonlocal most_pods
            while True:
                most_pods = max(most_pods, len(await serving.pods("worker")))
                await asyncio.sleep(0.05)  # a sample of the Pod count every 50 ms

        watcher = asyncio.create_task(watch_pods())
        try:
            statuses = await asyncio.gather(*(kawa.send(event(f"e{i}")) for i in range(SENT)))
            assert statuses == [202] * SENT

            async def all_served() -> bool:
                text = trace.read_text() if trace.exists() else ""
                return text.count("end ") >= SENT

            await eventually(all_served, 30, "the burst never reached the Service in full")
        finally:
            watcher.cancel()
        text = trace.read_text()
        assert text.count("start ") == SENT  # each event once: none refused, none retried
        assert dls.events == []
        most = _most_in_flight(text)
        assert most <= 2, most
        url = metrics_url(kawa)

        async def all_answered() -> dict[str, float] | None:
            answers = await _answers(url)
            return answers if sum(answers.values()) >= SENT else None

        answers = await eventually(all_answered, 10, "the router never counted the burst")
        assert answers == {"202": SENT}  # not one 503
        assert most_pods == 2, most_pods  # the burst scaled the Service to its max-scale
