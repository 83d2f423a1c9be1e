"""Events through a running kawa: triggers, filters, replies, retries, dead letters."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from kawa.cloudevents import http as ce_http
from kawa.eventlog.jetstream import JetStreamEventLog

from ..waiting import eventually
from .broker_support import broker, event, respond, running_kawa, subscriber, trigger

pytestmark = pytest.mark.usefixtures("each_backend")


def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


async def test_event_reaches_subscriber_unchanged(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        await kawa.apply(broker())
        await kawa.apply(trigger("t1", sub.url))
        ready = await kawa.wait_ready("Trigger", "t1")
        assert ready["status"]["subscriberUri"] == sub.url
        data = b'{"b": 2,   "a": [1, 2]}'
        sent = event("e1", data=data, datacontenttype="application/json", myext="v")
        assert await kawa.send(sent) == 202
        (got,) = await sub.wait_for(1)
        assert got.data == data
        assert got.attributes == sent.attributes  # TTL stripped, nothing added
        assert sub.headers[0]["prefer"] == "reply"
        assert sub.headers[0]["kn-namespace"] == "default"


async def test_filters_and_one_delivery_per_trigger(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as sub, subscriber() as other:
        await kawa.apply(broker())
        await kawa.apply(trigger("all-1", sub.url))
        await kawa.apply(trigger("all-2", sub.url))
        await kawa.apply(trigger("orders", other.url, filter={"attributes": {"type": "order"}}))
        await kawa.apply(
            trigger(
                "prefixed",
                other.url,
                filters=[{"prefix": {"source": "/shop"}}, {"not": {"exact": {"type": "order"}}}],
            )
        )
        for name in ("all-1", "all-2", "orders", "prefixed"):
            await kawa.wait_ready("Trigger", name)
        assert await kawa.send(event("1", type_="order")) == 202
        assert await kawa.send(event("2", type_="refund", source="/shop/eu")) == 202
        assert await kawa.send(event("3", type_="other")) == 202
        await sub.wait_for(6)  # every event to each of the two catch-all triggers
        await other.wait_for(2)
        # Later events through every trigger: each consumer has read past the first three.
        assert await kawa.send(event("s-order", type_="order")) == 202
        assert await kawa.send(event("s-shop", type_="refund", source="/shop/us")) == 202
        await sub.wait_for(10)
        await other.wait_for(4)
        delivered = sorted(e.id for e in sub.events if not e.id.startswith("s-"))
        assert delivered == ["1", "1", "2", "2", "3", "3"]
        assert sorted(e.id for e in other.events) == ["1", "2", "s-order", "s-shop"]


async def test_reply_goes_back_into_the_broker(tmp_path: Path) -> None:
    reply_headers, reply_body = ce_http.to_binary(event("r1", type_="reply.type"))
    async with running_kawa(tmp_path) as kawa, subscriber() as first, subscriber() as second:
        first.default = respond(200, reply_body, reply_headers)
        await kawa.apply(broker())
        await kawa.apply(trigger("asks", first.url, filter={"attributes": {"type": "ask"}}))
        await kawa.apply(
            trigger("replies", second.url, filter={"attributes": {"type": "reply.type"}})
        )
        await kawa.wait_ready("Trigger", "asks")
        await kawa.wait_ready("Trigger", "replies")
        assert await kawa.send(event("q", type_="ask")) == 202
        (reply,) = await second.wait_for(1)
        assert reply.id == "r1"
        assert "knativebrokerttl" not in reply.attributes


async def test_reply_loop_ends_with_the_ttl(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kawa.dispatch.consumer")
    headers, body = ce_http.to_binary(event("loop", type_="loop"))
    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        sub.default = respond(200, body, headers)  # replies with an event it matches itself
        await kawa.apply(broker())
        await kawa.apply(trigger("loop", sub.url))
        await kawa.wait_ready("Trigger", "loop")
        assert await kawa.send(event("start", type_="loop", knativebrokerttl="5")) == 202
        await sub.wait_for(4)

        async def dropped() -> bool:
            return logged(caplog, "trigger default/loop: reply dropped")

        # stored with TTL 4, 3, 2, 1; the reply to the last would have TTL 0: dropped
        await eventually(dropped, message="the last reply was never dropped")
        assert len(sub.events) == 4


async def test_retries_then_dead_letter_sink(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as sub, subscriber() as dls:
        sub.default = respond(503, b"busy")
        await kawa.apply(broker())
        await kawa.apply(
            trigger(
                "t",
                sub.url,
                delivery={
                    "retry": 2,
                    "backoffPolicy": "linear",
                    "backoffDelay": "PT0.01S",
                    "deadLetterSink": {"uri": dls.url},
                },
            )
        )
        ready = await kawa.wait_ready("Trigger", "t")
        assert ready["status"]["deadLetterSinkUri"] == dls.url
        assert await kawa.send(event("doomed", data=b"hi", datacontenttype="text/plain")) == 202
        (dead,) = await dls.wait_for(1)
        assert len(sub.events) == 3  # retry 2 = 3 attempts
        assert dead.id == "doomed"
        assert dead.data == b"hi"
        assert dead.attributes["knativeerrorcode"] == "503"
        assert dead.attributes["knativeerrordest"] == sub.url
        assert dead.attributes["knativeerrordata"] == "YnVzeQ=="  # base64("busy")


async def test_a_reply_nested_too_deeply_is_retried_then_dead_lettered(tmp_path: Path) -> None:
    """A reply whose data nests 300 levels once dropped the event after one attempt (an
    exception out of the sender), ignoring ``retry``; it is a bad reply like any other: retried,
    then dead-lettered with knativeerrorcode 502 (as Knative's broker filter reports it)."""
    deep = b'{"specversion":"1.0","id":"r","source":"/s","type":"t","data":'
    deep += b"[" * 300 + b"]" * 300 + b"}"
    async with running_kawa(tmp_path) as kawa, subscriber() as sub, subscriber() as dls:
        sub.default = respond(200, deep, {"Content-Type": "application/cloudevents+json"})
        await kawa.apply(broker())
        delivery = {"retry": 2, "backoffDelay": "PT0.01S", "deadLetterSink": {"uri": dls.url}}
        await kawa.apply(trigger("t", sub.url, delivery=delivery))
        await kawa.wait_ready("Trigger", "t")
        assert await kawa.send(event("asks")) == 202
        (dead,) = await dls.wait_for(1)
        assert len(sub.events) == 3  # retry 2 = 3 attempts
        assert dead.id == "asks"
        assert dead.attributes["knativeerrorcode"] == "502"


async def test_broker_delivery_applies_unless_the_trigger_has_its_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as sub, subscriber() as dls:
        sub.default = respond(500)
        await kawa.apply(broker(delivery={"retry": 0, "deadLetterSink": {"uri": dls.url}}))
        await kawa.apply(trigger("inherits", sub.url))
        # with the dead-letter store off, a trigger without a sink drops what it gives up
        await kawa.apply(
            trigger(
                "own",
                sub.url,
                annotations={"kawa.dev/dead-letter-store": "false"},
                delivery={"retry": 1, "backoffDelay": "PT0S"},
            )
        )
        await kawa.wait_ready("Trigger", "inherits")
        await kawa.wait_ready("Trigger", "own")
        assert await kawa.send(event("x")) == 202
        await dls.wait_for(1)
        await sub.wait_for(3)  # 1 attempt (inherits) + 2 attempts (own, no DLS)

        async def own_gave_up() -> bool:
            return logged(caplog, "trigger default/own: event x dropped after 2 attempt(s)")

        # both deliveries are finished: "inherits" dead-lettered it, "own" gave up
        await eventually(own_gave_up, message="trigger own never gave up")
        assert len(dls.events) == 1
        assert len(sub.events) == 3


async def test_trigger_waits_for_its_broker(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        await kawa.apply(trigger("early", sub.url))
        t = await kawa.wait_condition("Trigger", "early", "BrokerReady", "False")
        ready = next(c for c in t["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False"
        assert ready["reason"] == "BrokerDoesNotExist"
        await kawa.apply(broker())
        await kawa.wait_ready("Trigger", "early")
        assert await kawa.send(event("late")) == 202
        await sub.wait_for(1)


async def test_unresolvable_subscriber_is_not_ready(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        await kawa.apply(broker())
        t = trigger("t", "http://unused/")
        t["spec"]["subscriber"] = {
            "ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "missing"}
        }
        await kawa.apply(t)
        got = await kawa.wait_condition("Trigger", "t", "SubscriberResolved", "False")
        assert got["status"]["subscriberUri"] == ""
        cond = next(c for c in got["status"]["conditions"] if c["type"] == "SubscriberResolved")
        assert "missing" in cond["message"]


async def test_slow_subscriber_does_not_slow_other_triggers(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def stall(_: object) -> object:
        await release.wait()
        return await respond()(_)  # type: ignore[arg-type]

    async with running_kawa(tmp_path) as kawa, subscriber() as slow, subscriber() as fast:
        slow.default = stall  # type: ignore[assignment]
        await kawa.apply(broker())
        await kawa.apply(trigger("slow", slow.url))
        await kawa.apply(trigger("fast", fast.url))
        await kawa.wait_ready("Trigger", "slow")
        await kawa.wait_ready("Trigger", "fast")
        for i in range(150):
            assert await kawa.send(event(str(i))) == 202
        await fast.wait_for(150, timeout=10)
        # the slow trigger has many deliveries in flight at once (unordered by default)
        assert len(slow.events) >= 50
        release.set()
        await slow.wait_for(150, timeout=10)


async def test_new_trigger_starts_with_new_events(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        await kawa.apply(broker())
        await kawa.wait_ready("Broker", "default")

        async def stored() -> bool:  # 404 until the data plane has seen the broker
            return await kawa.send(event("before")) == 202

        await eventually(stored, message="the broker never took an event")
        await kawa.apply(trigger("t", sub.url))
        await kawa.wait_ready("Trigger", "t")
        assert await kawa.send(event("after")) == 202
        await sub.wait_for(1)
        assert await kawa.send(event("later")) == 202  # read after "before" would have been
        await sub.wait_for(2)
        assert [e.id for e in sub.events] == ["after", "later"]


async def test_deleted_trigger_stops_delivering(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as sub, subscriber() as witness:
        await kawa.apply(broker())
        await kawa.apply(trigger("t", sub.url))
        await kawa.apply(trigger("w", witness.url))
        t = await kawa.wait_ready("Trigger", "t")
        await kawa.wait_ready("Trigger", "w")
        assert await kawa.send(event("1")) == 202
        await sub.wait_for(1)
        await kawa.delete("Trigger", "t")

        async def stopped() -> bool:  # the data plane removes the cursor once it stopped
            return await kawa.cursor(t) is None

        await eventually(stopped, message="the deleted trigger's consumer never stopped")
        assert await kawa.send(event("2")) == 202
        await witness.wait_for(2)  # delivered through the trigger still there
        assert [e.id for e in sub.events] == ["1"]


async def test_cesql_filter_selects_events(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        await kawa.apply(broker())
        expression = "type LIKE 'order.%' AND INT(amount) >= 100"
        await kawa.apply(trigger("big-orders", sub.url, filters=[{"cesql": expression}]))
        await kawa.wait_ready("Trigger", "big-orders")
        assert await kawa.send(event("small", type_="order.created", amount="5")) == 202
        assert await kawa.send(event("big", type_="order.created", amount="250")) == 202
        assert await kawa.send(event("other", type_="invoice.created", amount="999")) == 202
        assert await kawa.send(event("noamount", type_="order.created")) == 202
        await sub.wait_for(1)
        # a later match: the consumer has filtered out every event before it
        assert await kawa.send(event("later", type_="order.created", amount="100")) == 202
        await sub.wait_for(2)
        assert [e.id for e in sub.events] == ["big", "later"]


async def test_deleting_triggers_and_brokers_leaves_nothing_on_the_server(
    tmp_path: Path, each_backend: str
) -> None:
    """On JetStream a trigger is a durable consumer and a broker a stream: deleting them
    deletes those, listed from the server itself (on SQLite: the trigger's cursor goes)."""
    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        b = await kawa.apply(broker("gone"))
        await kawa.apply(trigger("t1", sub.url, broker_name="gone"))
        t2 = await kawa.apply(trigger("t2", sub.url, broker_name="gone"))
        await kawa.wait_ready("Trigger", "t1")
        await kawa.wait_ready("Trigger", "t2")
        assert await kawa.send(event("1"), broker_name="gone") == 202
        await sub.wait_for(2)
        stream = f"broker:{b['metadata']['uid']}"

        async def on_server() -> tuple[set[str], set[str]]:
            if kawa.event_log is None:
                return set(), set()
            assert isinstance(kawa.event_log, JetStreamEventLog)
            js, names = kawa.event_log.js, kawa.event_log.names
            streams = {s.config.name or "" for s in await js.streams_info()}
            name = names.of(stream).stream
            if name not in streams:
                return streams, set()
            for _ in range(20):
                try:
                    return streams, {c.name or "" for c in await js.consumers_info(name)}
                except AttributeError:  # nats-py: a consumer deleted while the list was made
                    await asyncio.sleep(0.05)
            raise AssertionError(f"could not list the consumers of {name}")

        if each_backend == "jetstream":
            streams, consumers = await on_server()
            assert isinstance(kawa.event_log, JetStreamEventLog)
            assert kawa.event_log.names.of(stream).stream in streams
            assert len(consumers) == 2
        await kawa.delete("Trigger", "t2")

        async def one_consumer_left() -> bool:
            if each_backend == "jetstream":
                return len((await on_server())[1]) == 1
            return await kawa.cursor(t2) is None

        await eventually(one_consumer_left, message="the deleted trigger's consumer stayed")
        await kawa.delete("Broker", "gone")

        async def stream_gone() -> bool:
            if not isinstance(kawa.event_log, JetStreamEventLog):
                return True
            streams, _ = await on_server()
            return kawa.event_log.names.of(stream).stream not in streams

        await eventually(stream_gone, message="the deleted broker's stream stayed")


async def test_a_resent_event_is_delivered_once_on_jetstream(
    tmp_path: Path, each_backend: str
) -> None:
    """A sender that retries an event it got no answer for (same ``source`` and ``id``):
    JetStream's duplicate window stores it once; SQLite has no window and keeps both."""
    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        await kawa.apply(broker())
        await kawa.apply(trigger("t", sub.url))
        await kawa.wait_ready("Trigger", "t")
        assert await kawa.send(event("resent")) == 202
        assert await kawa.send(event("resent")) == 202
        assert await kawa.send(event("next")) == 202
        await sub.wait_for(2 if each_backend == "jetstream" else 3)
        ids = sorted(e.id for e in sub.events)  # unordered trigger: any order
        expected = ["next", "resent"] if each_backend == "jetstream" else ["next"] + ["resent"] * 2
        assert ids == expected


async def test_a_failing_dead_letter_sink_never_loses_the_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Delivery fails, then the dead-letter send fails too: the event is not acked or passed
    (on JetStream it stays unacked, on SQLite below the cursor) and is tried again until the
    dead-letter sink takes it."""
    async with running_kawa(tmp_path) as kawa, subscriber() as sub, subscriber() as dls:
        sub.default = respond(500, b"broken")
        dls.script = [respond(500), respond(503)]  # down twice, then back
        await kawa.apply(broker())
        t = await kawa.apply(trigger("t", sub.url, delivery={"deadLetterSink": {"uri": dls.url}}))
        await kawa.wait_ready("Trigger", "t")
        assert await kawa.send(event("precious")) == 202
        received = await dls.wait_for(3, timeout=20)
        assert [e.id for e in received] == ["precious"] * 3  # two refused, the third kept
        assert len(sub.events) == 3  # each round delivers to the subscriber first
        assert any("it is tried again" in r.getMessage() for r in caplog.records)
        await kawa.cursor_reaches(t, 1)  # done only once the dead letter was taken
