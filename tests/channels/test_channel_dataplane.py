"""The channel data plane over real HTTP: Knative's channel contract, fan-out, replies, dead
letters, and what a departing subscriber or channel leaves behind."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import aiohttp

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..broker.broker_support import event, respond, running_kawa, saved_cursors, subscriber
from ..waiting import eventually
from .channel_support import channel_url, imc, put_channel, send, sub


async def test_channel_ingress_contract(tmp_path: Path) -> None:
    async with running_kawa(tmp_path, max_event_size=100_000) as kawa, subscriber() as s1:
        await put_channel(kawa, imc("c1", sub("u1", s1.url)))
        url = channel_url(kawa, "c1")
        assert await send(kawa, url, event("a")) == 202
        s = aiohttp.ClientSession()  # a sender has no token
        async with s.get(url) as resp:
            assert resp.status == 405
            assert resp.headers["Allow"] == "POST, OPTIONS"
        async with s.put(url, data=b"") as resp:
            assert resp.status == 405
        assert await send(kawa, channel_url(kawa, "nope"), event("b")) == 404
        async with s.post(url, data=b"{}", headers={"ce-id": "1", "ce-type": "t"}) as resp:
            assert resp.status == 400
            assert "specversion" in await resp.text()
        async with s.post(
            url, data=b"not json", headers={"content-type": "application/cloudevents+json"}
        ) as resp:
            assert resp.status == 400
        headers, _ = ce_http.to_binary(event("huge", datacontenttype="text/plain"))
        async with s.post(url, data=b"x" * 200_000, headers=headers) as resp:
            assert resp.status == 413
        await s.close()
        assert [e.id for e in await s1.wait_for(1)] == ["a"]


async def test_every_subscriber_gets_every_event_unchanged_in_its_mode(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as s1, subscriber() as s2:
        await put_channel(kawa, imc("fan", sub("u1", s1.url), sub("u2", s2.url)))
        url = channel_url(kawa, "fan")
        binary = event("bin", data=b'{"n": 1}', datacontenttype="application/json", myext="x")
        structured = event("str", data=b'{"n": 2}', datacontenttype="application/json")
        old = CloudEvent(
            {
                "specversion": "0.3",
                "id": "v03",
                "type": "t",
                "source": "/s",
                "schemaurl": "http://x/s",
            },
            b"hello",
        )
        trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        assert await send(kawa, url, binary, headers={"traceparent": trace}) == 202
        assert await send(kawa, url, structured, structured=True) == 202
        assert await send(kawa, url, old) == 202
        for s in (s1, s2):
            got = {e.id: e for e in await s.wait_for(3)}
            assert got["bin"].attributes == binary.attributes
            assert got["bin"].data == binary.data
            assert got["str"].attributes == structured.attributes
            assert got["v03"].attributes["specversion"] == "0.3"
            assert got["v03"].attributes["schemaurl"] == "http://x/s"
            by_id = dict(zip([e.id for e in s.events], s.headers, strict=True))
            assert by_id["bin"]["traceparent"] == trace
            assert by_id["bin"]["content-type"] == "application/json"  # binary stays binary
            assert by_id["str"]["content-type"].startswith("application/cloudevents+json")
            assert by_id["v03"]["ce-specversion"] == "0.3"
            assert len(s.events) == 3


async def test_replies_go_to_the_reply_destination_or_nowhere(tmp_path: Path) -> None:
    reply = event("r1", type_="reply.type")
    headers, body = ce_http.to_binary(reply)
    async with (
        running_kawa(tmp_path) as kawa,
        subscriber() as answering,
        subscriber() as silent_answering,
        subscriber() as downstream,
    ):
        answering.default = respond(200, body, headers)
        silent_answering.default = respond(200, body, headers)
        # c2 is a second channel, reached as a reply (appended directly: kawa's own address)
        await put_channel(kawa, imc("c2", sub("d1", downstream.url)))
        await put_channel(
            kawa,
            imc(
                "c1",
                sub("u1", answering.url, channel_url(kawa, "c2")),
                sub("u2", silent_answering.url),  # no reply destination: the reply is dropped
            ),
        )
        assert await send(kawa, channel_url(kawa, "c1"), event("e1")) == 202
        got = await downstream.wait_for(1)
        assert [e.id for e in got] == ["r1"]
        assert got[0].type == "reply.type"
        await silent_answering.wait_for(1)
        # only the events: a subscriber without a subscriberUri gets them at its replyUri
        await put_channel(kawa, imc("c3", sub("u3", None, downstream.url)))
        assert await send(kawa, channel_url(kawa, "c3"), event("e3")) == 202
        assert [e.id for e in await downstream.wait_for(2)] == ["r1", "e3"]


async def test_dead_letters_carry_the_error_and_the_namespace(tmp_path: Path) -> None:
    async with (
        running_kawa(tmp_path) as kawa,
        subscriber() as failing,
        subscriber() as dls,
    ):
        failing.default = respond(500, b"boom")
        own = {"retry": 1, "backoffDelay": "PT0.01S", "deadLetterSink": {"uri": dls.url}}
        await put_channel(kawa, imc("c1", sub("u1", failing.url, delivery=own)))
        assert await send(kawa, channel_url(kawa, "c1"), event("e1")) == 202
        dead = (await dls.wait_for(1))[0]
        assert len(failing.events) == 2  # the first attempt and one retry
        assert dead.id == "e1"
        assert dead.attributes["knativeerrorcode"] == "500"
        assert dead.attributes["knativeerrordest"] == failing.url
        assert base64.b64decode(str(dead.attributes["knativeerrordata"])) == b"boom"
        assert dls.headers[0]["kn-namespace"] == "default"


async def test_a_departing_subscriber_and_channel_leave_no_cursor_or_stream(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as s1, subscriber() as s2:
        stored = await put_channel(kawa, imc("c1", sub("u1", s1.url), sub("u2", s2.url)))
        stream = f"channel:{stored['metadata']['uid']}"
        await put_channel(kawa, imc("c1", sub("u2", s2.url)))

        async def u1_gone() -> bool:
            return not any(c.startswith("subscription:u1@") for c in saved_cursors(kawa.data_dir))

        await eventually(u1_gone)
        assert await send(kawa, channel_url(kawa, "c1"), event("after")) == 202
        await s2.wait_for(1)
        assert s1.events == []
        async with kawa.session.delete(
            f"{kawa.url}/apis/messaging.knative.dev/v1/namespaces/default/inmemorychannels/c1"
        ) as resp:
            assert resp.status == 200

        async def all_gone() -> bool:
            return not any(on == stream for on, _ in saved_cursors(kawa.data_dir).values())

        await eventually(all_gone)
        assert await send(kawa, channel_url(kawa, "c1"), event("late")) == 404


async def test_knative_channel_host_names(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as s1:
        await put_channel(kawa, imc("orders", sub("u1", s1.url), ns="default"))
        for i, host in enumerate(
            [
                "orders-kn-channel.default.svc.cluster.local",
                "orders-kn-channel.default.svc",
                "orders-kn-channel.default:8080",
            ]
        ):
            status = await send(kawa, f"{kawa.url}/", event(f"h{i}"), headers={"Host": host})
            assert status == 202, host
        dispatcher = "imc-dispatcher.knative-eventing.svc.cluster.local"
        assert (
            await send(
                kawa, f"{kawa.url}/default/orders", event("h3"), headers={"Host": dispatcher}
            )
            == 202
        )
        assert await send(kawa, f"{kawa.url}/x", event("h4"), headers={"Host": dispatcher}) == 404
        assert (
            await send(
                kawa, f"{kawa.url}/", event("h5"), headers={"Host": "nope-kn-channel.default.svc"}
            )
            == 404
        )
        assert sorted(e.id for e in await s1.wait_for(4)) == ["h0", "h1", "h2", "h3"]


async def test_a_subscriber_without_delivery_uses_the_channels(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as failing, subscriber() as dls:
        failing.default = respond(500, b"boom")
        channel = imc(
            "c2",
            sub("u2", failing.url),
            delivery={"retry": 2, "backoffDelay": "PT0.01S", "deadLetterSink": {"uri": dls.url}},
        )
        # the consumer starts only once the channel's sink is resolved (put_channel waits for
        # it): the very first event is dead-lettered, none is dropped for want of a sink
        await put_channel(kawa, channel)
        assert await send(kawa, channel_url(kawa, "c2"), event("first")) == 202
        dead = (await dls.wait_for(1))[0]
        assert dead.id == "first"
        assert dead.attributes["knativeerrorcode"] == "500"
        assert len([e for e in failing.events if e.id == "first"]) == 3  # 1 + 2 retries


async def test_an_unresolved_channel_sink_holds_the_events(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as s1:
        sink = {"ref": {"apiVersion": "v1", "kind": "Service", "name": "not-yet"}}
        obj = imc("held", sub("u1", s1.url), delivery={"deadLetterSink": sink})
        url = f"{kawa.url}/apis/messaging.knative.dev/v1/namespaces/default/inmemorychannels"
        async with kawa.session.post(url, json=obj) as resp:
            assert resp.status == 201, await resp.text()

        async def published_not_ready() -> bool:
            async with kawa.session.get(f"{url}/held") as resp:
                got = await resp.json()
            subs = got.get("status", {}).get("subscribers") or []
            return bool(subs) and subs[0]["ready"] == "False"

        await eventually(published_not_ready)
        assert await send(kawa, channel_url(kawa, "held"), event("waits")) == 202
        await asyncio.sleep(0.5)
        assert s1.events == []  # held in the log, not delivered without its dead-letter sink
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "not-yet", "namespace": "default"},
            "spec": {"ports": [{"port": 80}]},
        }
        async with kawa.session.post(
            f"{kawa.url}/api/v1/namespaces/default/services", json=service
        ) as resp:
            assert resp.status == 201, await resp.text()
        got = await s1.wait_for(1, timeout=15)
        assert [e.id for e in got] == ["waits"]
