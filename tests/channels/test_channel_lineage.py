"""Lineage of channels (``inmemorychannels/trace``, ``channels/trace``): what happened to each
event a channel kept, read from the log as the broker's trace is (tests/broker/test_lineage.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kawa.dispatch.lineage import lineage_stream

from ..broker.broker_support import Kawa, event, respond, running_kawa, subscriber
from ..broker.test_lineage import _stream_names
from ..waiting import eventually
from .channel_support import MESSAGING, channel_url, imc, put_channel, send, sub


async def trace(kawa: Kawa, plural: str, name: str, event_id: str) -> tuple[int, Any]:
    url = f"{kawa.url}{MESSAGING}/default/{plural}/{name}/trace?id={event_id}"
    async with kawa.session.get(url) as resp:
        return resp.status, await resp.json()


async def settled(kawa: Kawa, plural: str, name: str, event_id: str, outcomes: int) -> Any:
    """The trace of ``event_id`` once ``outcomes`` subscribers have an outcome."""
    answer: Any = None

    async def done() -> bool:
        nonlocal answer
        status, answer = await trace(kawa, plural, name, event_id)
        if status != 200:
            answer = (status, answer)
            return False
        ends = [s for s in answer["events"][0]["timeline"] if s["what"] in ("delivered", "kept")]
        ends += [s for s in answer["events"][0]["timeline"] if s["what"] == "dead-lettered"]
        return len(ends) >= outcomes

    try:
        await eventually(done, 10.0, f"the lineage of {event_id} never settled")
    except AssertionError as err:
        raise AssertionError(f"{err}: {answer}") from None
    return answer


def of(steps: list[dict[str, Any]], who: str, what: str) -> list[dict[str, Any]]:
    return [s for s in steps if s.get("subscription") == who and s["what"] == what]


async def test_a_channel_trace_tells_each_subscribers_attempts_and_outcome(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as failing, subscriber() as ok:
        failing.default = respond(503, b"busy")
        dls = ok.url + "dead"
        delivery = {"retry": 1, "backoffDelay": "PT0.01S", "deadLetterSink": {"uri": dls}}
        await put_channel(kawa, imc("c1", sub("u-fail", failing.url, delivery=delivery)))
        await put_channel(
            kawa,
            imc("c1", sub("u-fail", failing.url, delivery=delivery), sub("u-ok", ok.url)),
        )
        assert await send(kawa, channel_url(kawa, "c1"), event("e1")) == 202
        answer = await settled(kawa, "inmemorychannels", "c1", "e1", 2)
        assert answer["channel"] == {"namespace": "default", "name": "c1", "lineage": True}
        steps = answer["events"][0]["timeline"]
        assert steps[0]["what"] == "accepted"
        assert not [s for s in steps if s["what"] == "filter"]  # subscribers have no filter
        assert not [s for s in steps if "trigger" in s]
        attempts = of(steps, "u-fail", "attempt")
        assert [(a["stage"], a["status"] // 100) for a in attempts] == [
            ("delivery", 5),
            ("delivery", 5),
            ("dead-letter", 2),
        ]
        assert attempts[2]["destination"] == dls
        assert len(of(steps, "u-fail", "dead-lettered")) == 1
        assert [a["status"] // 100 for a in of(steps, "u-ok", "attempt")] == [2]
        assert len(of(steps, "u-ok", "delivered")) == 1

        status, missing = await trace(kawa, "inmemorychannels", "c1", "never-sent")
        assert status == 404, missing
        expected = "no event with id 'never-sent' in the log of channel default/c1"
        assert expected in missing["message"], missing


async def test_a_channel_names_its_subscriptions_and_lineage_can_be_off(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as ok:
        base = f"{kawa.url}{MESSAGING}/default"
        channel = {
            "apiVersion": "messaging.knative.dev/v1",
            "kind": "Channel",
            "metadata": {"name": "orders", "namespace": "default"},
        }
        subscription = {
            "apiVersion": "messaging.knative.dev/v1",
            "kind": "Subscription",
            "metadata": {"name": "to-ok", "namespace": "default"},
            "spec": {
                "channel": {
                    "apiVersion": "messaging.knative.dev/v1",
                    "kind": "Channel",
                    "name": "orders",
                },
                "subscriber": {"uri": ok.url},
            },
        }
        for plural, obj in (("channels", channel), ("subscriptions", subscription)):
            async with kawa.session.post(f"{base}/{plural}", json=obj) as resp:
                assert resp.status == 201, await resp.json()

        sent = iter(range(1_000_000))

        async def delivered() -> bool:
            # until the Subscription is ready the channel refuses (none yet) or keeps the
            # event from the subscriber (it gets the events sent once it is ready)
            await send(kawa, channel_url(kawa, "orders"), event(f"o{next(sent)}"))
            return bool(ok.events)

        await eventually(delivered, 15.0, "the channel never delivered")
        answer = await settled(kawa, "channels", "orders", ok.events[0].id, 1)
        steps = answer["events"][0]["timeline"]
        assert of(steps, "to-ok", "delivered"), steps

        quiet = imc("quiet", sub("u-q", ok.url))
        quiet["metadata"]["annotations"] = {"kawa.dev/lineage": "off"}
        stored = await put_channel(kawa, quiet)
        seen = len(ok.events)
        assert await send(kawa, channel_url(kawa, "quiet"), event("hush")) == 202
        await ok.wait_for(seen + 1)
        status, hushed = await trace(kawa, "inmemorychannels", "quiet", "hush")
        assert status == 200, hushed
        assert hushed["channel"]["lineage"] is False
        assert hushed["events"][0]["timeline"] == []
        stream = lineage_stream(f"channel:{stored['metadata']['uid']}")
        assert stream not in _stream_names(tmp_path)
