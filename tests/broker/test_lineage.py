"""Lineage (``brokers/trace``): what happened to each event a broker kept, on both backends.

One kawa per test runs four triggers at once: one whose attribute filter rejects the event,
one whose CESQL filter fails, one that retries into the dead-letter sink, one whose
subscriber replies; the trace of the event then names each of those, read from the log.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any, cast

import pytest

from kawa.broker.envelope import on_ingress
from kawa.dispatch.lineage import Lineage, decode, lineage_stream
from kawa.errors import NotFoundError
from kawa.eventlog.memory import MemoryEventLog
from kawa.observability.trace import Trace
from kawa.store.base import ResourceStore

from ..waiting import eventually
from .broker_support import API, Kawa, broker, event, respond, running_kawa, subscriber, trigger

REPLY = {"ce-specversion": "1.0", "ce-id": "reply-7", "ce-source": "/r", "ce-type": "reply.t"}


async def trace(kawa: Kawa, event_id: str, broker_name: str = "default") -> tuple[int, Any]:
    url = f"{kawa.url}{API}/default/brokers/{broker_name}/trace?id={event_id}"
    async with kawa.session.get(url) as resp:
        return resp.status, await resp.json()


async def steps_of(kawa: Kawa, event_id: str, until: Any) -> list[dict[str, Any]]:
    """The timeline of the (one) event ``event_id`` once ``until(timeline)`` holds."""
    found: list[dict[str, Any]] = []

    async def complete() -> bool:
        nonlocal found
        status, answer = await trace(kawa, event_id)
        assert status == 200, answer
        (one,) = answer["events"]
        found = one["timeline"]
        return bool(until(found))

    await eventually(complete, 10.0, f"the lineage of {event_id} never completed: {found}")
    return found


def of(steps: list[dict[str, Any]], trigger_name: str, what: str) -> list[dict[str, Any]]:
    return [s for s in steps if s.get("trigger") == trigger_name and s["what"] == what]


async def test_a_trace_tells_each_trigger_decision_attempt_and_reply(
    tmp_path: Path, each_backend: str
) -> None:
    async with (
        running_kawa(tmp_path) as kawa,
        subscriber() as failing,
        subscriber() as dls,
        subscriber() as replying,
    ):
        failing.default = respond(503, b"busy")
        replying.default = respond(200, b"", REPLY)
        await kawa.apply(broker())
        triggers = [
            trigger("other-type", dls.url, filter={"attributes": {"type": "not.this"}}),
            trigger("cesql", dls.url, filters=[{"cesql": "int(flavour) > 1"}]),
            trigger(
                "doomed",
                failing.url,
                filters=[{"exact": {"type": "order.created"}}],
                delivery={
                    "retry": 1,
                    "backoffDelay": "PT0.01S",
                    "deadLetterSink": {"uri": dls.url},
                },
            ),
            trigger("answers", replying.url, filters=[{"exact": {"type": "order.created"}}]),
        ]
        for obj in triggers:
            await kawa.apply(obj)
        for obj in triggers:
            await kawa.wait_ready("Trigger", obj["metadata"]["name"])
        assert await kawa.send(event("e-1", "order.created", flavour="vanilla")) == 202

        def finished(steps: list[dict[str, Any]]) -> bool:
            return bool(of(steps, "doomed", "dead-lettered") and of(steps, "answers", "reply"))

        steps = await steps_of(kawa, "e-1", finished)
        assert steps[0]["what"] == "accepted"
        assert steps[0]["by"]  # the kawa process that took it in
        (rejected,) = of(steps, "other-type", "filter")
        assert rejected["matched"] is False
        assert rejected["rejection"]["path"] == "spec.filter.attributes.type"
        assert rejected["rejection"]["actual"] == "order.created"
        (failed,) = of(steps, "cesql", "filter")
        assert failed["matched"] is False
        assert failed["rejection"]["dialect"] == "cesql"
        assert failed["rejection"]["cesql"]["error"]["kind"], failed
        assert "vanilla" in str(failed["rejection"]["cesql"]["reads"])
        attempts = of(steps, "doomed", "attempt")
        assert [(a["stage"], a["attempt"], a["status"]) for a in attempts] == [
            ("delivery", 1, 503),
            ("delivery", 2, 503),
            ("dead-letter", 1, 202),
        ]
        assert attempts[0]["destination"] == failing.url
        assert attempts[0]["error"] == "HTTP 503"
        assert attempts[2]["destination"] == dls.url
        assert of(steps, "doomed", "dead-lettered")[0]["error"] == "HTTP 503"
        assert of(steps, "answers", "filter")[0]["matched"] is True
        assert [a["status"] for a in of(steps, "answers", "attempt")] == [200]
        (reply,) = of(steps, "answers", "reply")
        assert reply["replyId"] == "reply-7"
        assert of(steps, "answers", "delivered")
        times = [s["at"] for s in steps]
        assert times == sorted(times)

        # the reply is an event of the broker too: its lineage says what it answers
        reply_steps = await steps_of(kawa, "reply-7", lambda s: len(of(s, "answers", "filter")))
        assert reply_steps[0]["what"] == "accepted"
        assert reply_steps[0]["replyOf"] == "answers/e-1"

        status, answer = await trace(kawa, "never-sent")
        assert status == 404, answer
        assert "never accepted, or trimmed" in answer["message"]


async def test_lineage_off_for_a_broker_records_nothing(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        off = broker("quiet")
        off["metadata"]["annotations"] = {"kawa.dev/lineage": "off"}
        await kawa.apply(off)
        await kawa.apply(broker("loud"))
        await kawa.apply(trigger("q", sub.url, broker_name="quiet"))
        await kawa.apply(trigger("l", sub.url, broker_name="loud"))
        await kawa.wait_ready("Trigger", "q")
        await kawa.wait_ready("Trigger", "l")
        assert await kawa.send(event("hush"), broker_name="quiet") == 202
        assert await kawa.send(event("shout"), broker_name="loud") == 202
        await sub.wait_for(2)

        async def loud_recorded() -> bool:
            _, answer = await trace(kawa, "shout", "loud")
            return any(s["what"] == "delivered" for s in answer["events"][0]["timeline"])

        await eventually(loud_recorded, 10.0, "the loud broker's lineage never came")
        status, answer = await trace(kawa, "hush", "quiet")
        assert status == 200, answer
        assert answer["broker"]["lineage"] is False
        assert answer["events"][0]["timeline"] == []  # the event is there, its lineage not
        quiet = await kawa.get("Broker", "quiet")
        stream = lineage_stream(f"broker:{quiet['metadata']['uid']}")
        assert (tmp_path / "events.db").exists()
        assert stream not in _stream_names(tmp_path)


def _stream_names(data_dir: Path) -> set[str]:
    path = data_dir / "events.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM streams")}


async def test_lineage_is_trimmed_with_its_event() -> None:
    """The lineage stream has no cursors: the log's trim removes its records by age with the
    events, and a trace of a trimmed event is a 404."""
    now = [1000.0]
    log = MemoryEventLog(clock=lambda: now[0])
    lineage = Lineage(log, "node-a")
    stream = "broker:u1"
    (seq,) = await log.append(stream, [on_ingress(event("old"), None, 255)])
    lineage.stream(stream).accepted([seq], now[0])
    lineage.stream(stream).trigger("t", "t-uid", "[]").decided(seq, False)
    await lineage.flush()
    tracer = Trace(cast(ResourceStore, None), log)  # trace() reads only the log
    found = await tracer.trace(_BROKER, [], "old", None)
    (timeline,) = [e["timeline"] for e in found["events"]]
    assert [(s["what"], s.get("by")) for s in timeline] == [
        ("accepted", "node-a"),
        ("filter", None),
    ]
    assert timeline[1]["note"].startswith("the trigger is gone")

    now[0] += 100
    assert await log.trim(60) == 2  # the event and its lineage record
    assert await log.read(lineage_stream(stream), 0, 10) == []
    with pytest.raises(NotFoundError, match="never accepted, or trimmed"):
        await tracer.trace(_BROKER, [], "old", None)


_BROKER = {"metadata": {"namespace": "default", "name": "b", "uid": "u1"}}


async def test_notes_are_kept_encoded_and_read_back_whole() -> None:
    """Buffered notes are JSON already (bytes: nothing for the garbage collector to scan); an
    error text JSON cannot hold as is (a lone surrogate from a sender's bytes) is stored
    escaped, and the record's other notes are not lost with it."""
    log = MemoryEventLog()
    lineage = Lineage(log, "node-a")
    stream = "broker:u1"
    notes = lineage.stream(stream)
    notes.accepted([1, 2], 5.0)
    trig = notes.trigger("t", "t-uid", "[]")
    trig.decided(1, True)
    trig.outcome(1, "dead-lettered", "HTTP 500: \udcff bad")
    assert all(type(note) is bytes for note in notes.notes)
    await lineage.flush()
    (record,) = await log.read(lineage_stream(stream), 0, 10)
    read = list(decode(record.payload))
    assert [(n["seq"], n["what"]) for n in read] == [
        (1, "accepted"),
        (2, "accepted"),
        (1, "filter"),
        (1, "dead-lettered"),
    ]
    assert read[3]["error"] == "HTTP 500: \\udcff bad"
    assert notes.notes == []
