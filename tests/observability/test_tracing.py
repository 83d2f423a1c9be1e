"""OpenTelemetry traces of a real kawa, received by an OTLP/HTTP receiver in the test
(:mod:`.otlp_receiver`): one event with a ``traceparent`` runs ingress -> attempts ->
subscriber -> reply -> the reply's trigger -> its subscriber, and a Sequence's steps, all in
the sender's trace with every parent link right; the subscribers see the attempts' spans as
their parents. Plus the ``OTEL_*`` variables that switch tracing on (it is off by default)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kawa.cloudevents import http as ce_http
from kawa.observability.tracing import TracingConfig, from_environ

from ..broker.broker_support import (
    Kawa,
    broker,
    event,
    respond,
    running_kawa,
    subscriber,
    trigger,
)
from ..e2e import e2e_support
from ..waiting import eventually, wait_until
from .otlp_receiver import Receiver, Span, otlp_receiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SENDER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SENDER_SPAN}-01"
FLOWS = "/apis/flows.knative.dev/v1/namespaces/default"


def config(receiver: Receiver) -> TracingConfig:
    made = from_environ(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "kawa-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        }
    )
    assert made is not None
    return made


def child_of(parent: Span, spans: list[Span]) -> list[Span]:
    return [s for s in spans if s.parent == parent.span_id]


def sees(headers: dict[str, str], attempt: Span) -> None:
    """The subscriber got the attempt's span as its parent, in the sender's trace."""
    assert headers["traceparent"] == f"00-{TRACE_ID}-{attempt.span_id}-01"


async def send(kawa: Kawa, url: str, ev: Any) -> int:
    headers, body = ce_http.to_binary(ev)
    headers["traceparent"] = TRACEPARENT
    headers["tracestate"] = "vendor=1"
    async with kawa.session.post(url, data=body, headers=headers) as resp:
        return resp.status


async def test_one_trace_from_ingress_through_a_reply_to_the_second_trigger(
    tmp_path: Path,
) -> None:
    done_headers, done_body = ce_http.to_binary(event("done-1", type_="order.done"))
    async with (
        otlp_receiver() as receiver,
        running_kawa(tmp_path, tracing=config(receiver)) as kawa,
        subscriber() as shop,
        subscriber() as warehouse,
        subscriber() as audit,
        subscriber() as dls,
    ):
        shop.script = [respond(500), respond(200, done_body, done_headers)]
        audit.default = respond(500)
        await kawa.apply(broker())
        retry = {"retry": 1, "backoffPolicy": "linear", "backoffDelay": "PT0.01S"}
        orders = {"attributes": {"type": "order"}}
        await kawa.apply(trigger("orders", shop.url, filter=orders, delivery=retry))
        await kawa.apply(
            trigger("fulfil", warehouse.url, filter={"attributes": {"type": "order.done"}})
        )
        no_retry = {"retry": 0, "deadLetterSink": {"uri": dls.url}}
        await kawa.apply(trigger("audit", audit.url, filter=orders, delivery=no_retry))
        for name in ("orders", "fulfil", "audit"):
            await kawa.wait_ready("Trigger", name)

        assert await send(kawa, kawa.broker_url(), event("o-1", type_="order")) == 202
        await warehouse.wait_for(1)
        await dls.wait_for(1)

        def delivery(name: str) -> list[Span]:
            return receiver.named("trigger delivery", **{"kawa.trigger": name})

        async def exported() -> bool:
            return bool(delivery("fulfil") and delivery("audit"))

        await eventually(exported, message="the last deliveries' spans never arrived")

    spans = receiver.spans
    assert {s.trace_id for s in spans} == {TRACE_ID}
    assert {s.resource["service.name"] for s in spans} == {"kawa-under-test"}

    # the broker's ingress continues the sender's trace and stores the event (commit)
    ingress = receiver.one("broker ingress")
    assert (ingress.parent, ingress.kind) == (SENDER_SPAN, "server")
    assert ingress.attributes["http.response.status_code"] == 202
    assert ingress.attributes["cloudevents.event_id"] == "o-1"
    assert ingress.attributes["kawa.broker"] == "default"
    assert receiver.one("event log commit").parent == ingress.span_id

    # every trigger evaluates its filter on the stored event, in the ingress span
    def filters(parent: Span) -> dict[str, bool]:
        found = [s for s in child_of(parent, spans) if s.name == "trigger filter"]
        return {s.attributes["kawa.trigger"]: s.attributes["kawa.filter.matched"] for s in found}

    assert filters(ingress) == {"orders": True, "fulfil": False, "audit": True}
    assert len(receiver.named("trigger filter")) == 6  # three for the event, three for its reply

    # trigger 1: one delivery, two attempts (500, then 200 with the reply), each the parent
    # of the subscriber's request
    [first] = delivery("orders")
    assert (first.parent, first.kind) == (ingress.span_id, "consumer")
    assert first.attributes["kawa.delivery.attempts"] == 2
    assert first.attributes["kawa.delivery.outcome"] == "delivered"
    attempts = sorted(
        (s for s in child_of(first, spans) if s.name == "delivery attempt"), key=lambda s: s.start
    )
    assert {a.attributes["url.full"] for a in attempts} == {shop.url}
    assert [a.attributes["http.response.status_code"] for a in attempts] == [500, 200]
    assert [a.attributes["kawa.attempt"] for a in attempts] == [1, 2]
    assert [a.error for a in attempts] == [True, False]
    assert {a.kind for a in attempts} == {"client"}
    assert len(shop.headers) == 2
    for headers, attempt in zip(shop.headers, attempts, strict=True):
        sees(headers, attempt)
        assert headers["tracestate"] == "vendor=1"

    # the reply: a child of the delivery; the reply's filter and delivery continue from it
    reply = receiver.one("reply")
    assert reply.parent == first.span_id
    assert reply.attributes["cloudevents.event_id"] == "done-1"
    assert reply.attributes["cloudevents.event_type"] == "order.done"
    assert filters(reply) == {"orders": False, "fulfil": True, "audit": False}
    [second] = delivery("fulfil")
    assert second.parent == reply.span_id
    assert second.attributes["cloudevents.event_id"] == "done-1"
    [second_attempt] = child_of(second, spans)
    assert second_attempt.name == "delivery attempt"
    sees(warehouse.headers[0], second_attempt)

    # a failed delivery is dead-lettered in a span of its own, with its own attempt
    [audited] = delivery("audit")
    assert audited.parent == ingress.span_id
    assert audited.error
    assert audited.attributes["kawa.delivery.outcome"] == "dead-lettered"
    [failed_attempt, dead_letter] = sorted(child_of(audited, spans), key=lambda s: s.start)
    assert failed_attempt.attributes["http.response.status_code"] == 500
    assert dead_letter.name == "dead letter"
    assert dead_letter.attributes["kawa.dead_letter.error_code"] == 500
    [dls_attempt] = child_of(dead_letter, spans)
    assert dls_attempt.attributes["url.full"] == dls.url
    sees(dls.headers[0], dls_attempt)


async def test_a_sequence_is_one_trace(tmp_path: Path) -> None:
    """Step 1's reply goes through the Sequence's second channel to step 2, in one trace."""
    step_headers, step_body = ce_http.to_binary(event("step-1", type_="stepped"))
    async with (
        otlp_receiver() as receiver,
        running_kawa(tmp_path, tracing=config(receiver)) as kawa,
        subscriber() as one,
        subscriber() as two,
    ):
        one.default = respond(200, step_body, step_headers)
        sequence = {
            "apiVersion": "flows.knative.dev/v1",
            "kind": "Sequence",
            "metadata": {"name": "seq", "namespace": "default"},
            "spec": {"steps": [{"uri": one.url}, {"uri": two.url}]},
        }
        async with kawa.session.post(f"{kawa.url}{FLOWS}/sequences", json=sequence) as resp:
            assert resp.status == 201, await resp.text()

        async def address() -> str | None:
            async with kawa.session.get(f"{kawa.url}{FLOWS}/sequences/seq") as resp:
                status = (await resp.json()).get("status", {})
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])
            )
            url = status.get("address", {}).get("url")
            return url if ready and isinstance(url, str) else None

        url = await eventually(address, message="the Sequence never became Ready")

        assert await send(kawa, url, event("s-1", type_="start")) == 202
        await two.wait_for(1)

        async def exported() -> list[Span]:
            return [
                s
                for s in receiver.named("subscription delivery")
                if s.attributes["cloudevents.event_id"] == "step-1"
            ]

        [step_two] = await eventually(exported, message="step 2's delivery span never arrived")

    spans = receiver.spans
    assert {s.trace_id for s in spans} == {TRACE_ID}
    ingress = receiver.one("channel ingress")
    assert ingress.parent == SENDER_SPAN
    [step_one] = [
        s
        for s in receiver.named("subscription delivery")
        if s.attributes["cloudevents.event_id"] == "s-1"
    ]
    assert step_one.parent == ingress.span_id
    [attempt] = [s for s in child_of(step_one, spans) if s.name == "delivery attempt"]
    sees(one.headers[0], attempt)
    reply = receiver.one("reply")
    assert reply.parent == step_one.span_id
    # the reply is appended to the second channel with the reply span as its parent
    assert step_two.parent == reply.span_id
    [attempt_two] = child_of(step_two, spans)
    sees(two.headers[0], attempt_two)


async def test_a_parallel_is_one_trace(tmp_path: Path) -> None:
    """A Parallel's branch: the ingress channel's delivery to the filter, the filter's answer
    (a reply span) into the branch's channel, its delivery to the subscriber, and the
    subscriber's reply sent on to the Parallel's reply: one trace, each link right."""
    passed_headers, passed_body = ce_http.to_binary(event("p-1", type_="start"))
    out_headers, out_body = ce_http.to_binary(event("out-1", type_="branched"))
    async with (
        otlp_receiver() as receiver,
        running_kawa(tmp_path, tracing=config(receiver)) as kawa,
        subscriber() as filtering,
        subscriber() as branch,
        subscriber() as sink,
    ):
        filtering.default = respond(200, passed_body, passed_headers)
        branch.default = respond(200, out_body, out_headers)
        parallel = {
            "apiVersion": "flows.knative.dev/v1",
            "kind": "Parallel",
            "metadata": {"name": "par", "namespace": "default"},
            "spec": {
                "branches": [{"filter": {"uri": filtering.url}, "subscriber": {"uri": branch.url}}],
                "reply": {"uri": sink.url},
            },
        }
        async with kawa.session.post(f"{kawa.url}{FLOWS}/parallels", json=parallel) as resp:
            assert resp.status == 201, await resp.text()

        async def address() -> str | None:
            async with kawa.session.get(f"{kawa.url}{FLOWS}/parallels/par") as resp:
                status = (await resp.json()).get("status", {})
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])
            )
            url = status.get("address", {}).get("url")
            return url if ready and isinstance(url, str) else None

        url = await eventually(address, message="the Parallel never became Ready")
        assert await send(kawa, url, event("p-1", type_="start")) == 202
        [out] = await sink.wait_for(1)
        assert out.id == "out-1"

        async def exported() -> list[Span] | None:
            sent = [s for s in receiver.named("reply") if s.parent is not None]
            return receiver.spans if len(sent) >= 2 else None

        spans = await eventually(exported, message="the branch's reply spans never arrived")

    assert {s.trace_id for s in spans} == {TRACE_ID}
    ingress = receiver.one("channel ingress")
    assert ingress.parent == SENDER_SPAN
    deliveries = receiver.named("subscription delivery")
    [to_filter] = [s for s in deliveries if s.parent == ingress.span_id]
    [filter_attempt] = [s for s in child_of(to_filter, spans) if s.name == "delivery attempt"]
    sees(filtering.headers[0], filter_attempt)
    [passed] = [s for s in receiver.named("reply") if s.parent == to_filter.span_id]
    [to_branch] = [s for s in deliveries if s.parent == passed.span_id]
    [branch_attempt] = [s for s in child_of(to_branch, spans) if s.name == "delivery attempt"]
    sees(branch.headers[0], branch_attempt)
    [answered] = [s for s in receiver.named("reply") if s.parent == to_branch.span_id]
    # the Parallel's reply is a URI: the branch's answer is sent there within the trace
    assert sink.headers[0]["traceparent"].split("-")[1] == TRACE_ID
    assert answered.trace_id == TRACE_ID


async def test_a_trace_not_sampled_is_not_recorded_but_its_context_goes_on(
    tmp_path: Path,
) -> None:
    unsampled = "0af7651916cd43dd8448eb211c80319c"
    async with (
        otlp_receiver() as receiver,
        running_kawa(tmp_path, tracing=config(receiver)) as kawa,
        subscriber() as shop,
    ):
        await kawa.apply(broker())
        await kawa.apply(trigger("orders", shop.url))
        await kawa.wait_ready("Trigger", "orders")
        headers, body = ce_http.to_binary(event("quiet", type_="order"))
        headers["traceparent"] = f"00-{unsampled}-b7ad6b7169203331-00"
        async with kawa.session.post(kawa.broker_url(), data=body, headers=headers) as resp:
            assert resp.status == 202
        await shop.wait_for(1)
        # then a sampled one: once its delivery is exported, the first one's would have been
        assert await send(kawa, kawa.broker_url(), event("loud", type_="order")) == 202

        async def exported() -> list[Span]:
            return receiver.named("trigger delivery")

        await eventually(exported, message="the sampled event's delivery never arrived")

    assert {s.trace_id for s in receiver.spans} == {TRACE_ID}
    assert {s.attributes.get("cloudevents.event_id") for s in receiver.spans} >= {"loud"}
    quiet = shop.headers[0]["traceparent"]
    assert quiet.startswith(f"00-{unsampled}-")
    assert quiet.endswith("-00")


async def test_kawa_up_traces_by_the_otel_variables_and_exports_the_rest_on_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real ``kawa up``: the variables switch tracing on; the spans still waiting for the
    next export (here in ten minutes) go out when it stops."""
    async with otlp_receiver() as receiver, subscriber() as shop:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "kawa-up")
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")
        kawa = e2e_support.KawaProcess(
            tmp_path,
            tmp_path / "data",
            e2e_support.free_port(),
            e2e_support.free_port(),
            ("--metrics-port", "-1"),
        )
        # blocking calls in a thread: the receiver answers on this loop meanwhile
        await asyncio.to_thread(kawa.start)
        try:
            await asyncio.to_thread(kawa.create, e2e_support.broker())
            await asyncio.to_thread(kawa.create, e2e_support.trigger("t", shop.url))
            made = await asyncio.to_thread(kawa.wait_ready, "triggers", "t")
            headers, body = ce_http.to_binary(event("up-1", type_="order"))
            headers["traceparent"] = TRACEPARENT
            async with (
                aiohttp.ClientSession() as session,
                session.post(kawa.broker_url(), data=body, headers=headers) as resp,
            ):
                assert resp.status == 202
            await shop.wait_for(1)
            # the delivery is finished (its span ended) once the cursor moved past it
            await asyncio.to_thread(wait_until, lambda: kawa.cursor(made) == 1, 10.0)
            assert not receiver.spans
        finally:
            assert await asyncio.to_thread(kawa.stop) == 0, kawa.stderr

    assert {s.trace_id for s in receiver.spans} == {TRACE_ID}
    assert {s.resource["service.name"] for s in receiver.spans} == {"kawa-up"}
    ingress = receiver.one("broker ingress")
    assert ingress.parent == SENDER_SPAN
    delivery = receiver.one("trigger delivery")
    assert delivery.parent == ingress.span_id
    [attempt] = child_of(delivery, receiver.spans)
    sees(shop.headers[0], attempt)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "http://c:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/traces"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/custom",
            },
            "http://t/custom",
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "http://localhost:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_TRACES_EXPORTER": "none"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_SDK_DISABLED": "true"}, None),
    ],
)
def test_tracing_is_on_only_with_an_otlp_endpoint(env: dict[str, str], expected: str) -> None:
    made = from_environ(env)
    assert (made.endpoint if made else None) == expected


def test_service_name_sampler_and_export_delay_come_from_the_environment() -> None:
    base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}
    made = from_environ(base)
    assert made == TracingConfig("http://c/v1/traces", "kawa", "parentbased_always_on", 1.0, 5.0)
    made = from_environ(
        {
            **base,
            "OTEL_RESOURCE_ATTRIBUTES": "team=a,service.name=from-resource",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
    )
    assert made == TracingConfig(
        "http://c/v1/traces", "from-resource", "parentbased_traceidratio", 0.25, 0.2
    )
    named = from_environ({**base, "OTEL_SERVICE_NAME": "mine", "OTEL_RESOURCE_ATTRIBUTES":
                          "service.name=other"})  # fmt: skip
    assert named is not None
    assert named.service_name == "mine"


def test_bad_sampler_settings_fall_back_to_the_default(caplog: pytest.LogCaptureFixture) -> None:
    made = from_environ(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c",
            "OTEL_TRACES_SAMPLER": "jaeger_remote",
            "OTEL_TRACES_SAMPLER_ARG": "2",
        }
    )
    assert made is not None
    assert (made.sampler, made.sampler_ratio) == ("parentbased_always_on", 1.0)
    assert "OTEL_TRACES_SAMPLER=jaeger_remote" in caplog.text
    made = from_environ(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c",
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "2",
        }
    )
    assert made is not None
    assert (made.sampler, made.sampler_ratio) == ("traceidratio", 1.0)
