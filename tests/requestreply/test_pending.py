"""Pending requests: a reply completes the request waiting for its correlation id once (the
first reply wins), none for an unknown or released one; the relay's message carries the id
and the event; process indexes are 0 alone and positive with others."""

from __future__ import annotations

import asyncio

from kawa.cloudevents.event import CloudEvent
from kawa.requestreply import pending, relay_nats

REPLY = CloudEvent(
    {"specversion": "1.0", "id": "r", "source": "/s", "type": "t", "replyid": "a:b:1"}, b"x"
)


def test_the_first_reply_answers_the_waiting_request() -> None:
    async def scenario() -> None:
        held = pending.Pending(index=1)
        future = held.hold("a:b:1")
        assert len(held) == 1
        assert held.answer("a:b:1", REPLY)
        assert not held.answer("a:b:1", REPLY.with_attributes(id="late"))
        assert (await future).id == "r"
        held.release("a:b:1")
        assert len(held) == 0
        assert not held.answer("a:b:1", REPLY)
        assert not held.answer("unknown", REPLY)

    asyncio.run(scenario())


def test_relayed_replies_round_trip() -> None:
    decoded = relay_nats.decode(relay_nats.encode("a:b:1", REPLY))
    assert decoded == ("a:b:1", REPLY)
    assert relay_nats.decode(b"no newline") is None
    assert relay_nats.decode(b"a:b:1\nnot an event") is None


def test_indexes() -> None:
    assert pending.process_index(shared=False) == 0
    assert all(pending.process_index(shared=True) > 0 for _ in range(100))
