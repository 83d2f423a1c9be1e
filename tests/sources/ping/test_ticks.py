"""Tick arithmetic and the event of one tick (pure: fixed times, no event loop)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from kawa import cron as firing
from kawa.apis import cron
from kawa.apis.sources import pingsource
from kawa.sources.ping import ticks


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def parse(**spec: Any) -> pingsource.PingSource:
    return pingsource.parse_pingsource(
        {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "PingSource",
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "generation": 1},
            "spec": {"sink": {"uri": "http://sink.test/"}, **spec},
        }
    )


def test_the_schedule_reads_the_wall_clock_of_its_timezone() -> None:
    nine = cron.parse_schedule("0 9 * * *")
    paris = firing.zone("Europe/Paris")
    # Winter: UTC+1; summer: UTC+2.
    assert firing.next_tick(nine, paris, at("2024-01-15T00:00:00Z")) == at("2024-01-15T08:00:00Z")
    assert firing.next_tick(nine, paris, at("2024-07-15T00:00:00Z")) == at("2024-07-15T07:00:00Z")
    assert firing.next_tick(nine, firing.zone(""), at("2024-07-15T00:00:00Z")) == at(
        "2024-07-15T09:00:00Z"
    )
    kathmandu = firing.zone("Asia/Kathmandu")  # UTC+05:45
    assert firing.next_tick(nine, kathmandu, at("2024-07-15T00:00:00Z")) == at(
        "2024-07-15T03:15:00Z"
    )


def test_daylight_saving_changes_neither_loop_nor_double() -> None:
    paris = firing.zone("Europe/Paris")
    half_past_two = cron.parse_schedule("30 2 * * *")
    # 2024-03-31 02:30 does not exist in Paris: it fires at 03:30 CEST (01:30 UTC).
    assert firing.next_tick(half_past_two, paris, at("2024-03-31T00:00:00Z")) == at(
        "2024-03-31T01:30:00Z"
    )
    # 2024-10-27 02:30 happens twice: it fires once, the first time (00:30 UTC).
    fired = list(
        firing.ticks_between(
            half_past_two, paris, at("2024-10-26T22:00:00Z"), at("2024-10-27T23:00:00Z")
        )
    )
    assert fired == [at("2024-10-27T00:30:00Z")]
    every_second = cron.parse_schedule("* * * * * *")
    after = at("2024-10-27T01:30:00Z")  # 02:30 CET, the second pass of the hour
    assert firing.next_tick(every_second, paris, after) > after


def test_a_tick_missed_less_than_the_window_ago_fires_once() -> None:
    minute = cron.parse_schedule("* * * * *")
    utc = firing.zone("")
    last = at("2024-05-01T12:00:00Z")
    # kawa was down from 12:00:50 to 12:01:20: the 12:01:00 tick fires late, once.
    assert ticks.due_ticks(minute, utc, last, at("2024-05-01T12:01:20Z")) == [
        at("2024-05-01T12:01:00Z")
    ]
    # Back up after two hours: an hourly schedule fires the 14:00 tick only if it is less
    # than a minute old; 13:00 never fires.
    hourly = cron.parse_schedule("0 * * * *")
    assert ticks.due_ticks(hourly, utc, last, at("2024-05-01T14:05:00Z")) == []
    assert ticks.due_ticks(hourly, utc, last, at("2024-05-01T14:00:59Z")) == [
        at("2024-05-01T14:00:00Z")
    ]
    # Nothing is due twice.
    assert (
        ticks.due_ticks(minute, utc, at("2024-05-01T12:01:00Z"), at("2024-05-01T12:01:20Z")) == []
    )


def test_seconds_schedules_catch_up_only_inside_the_window() -> None:
    every_ten = cron.parse_schedule("*/10 * * * * *")
    utc = firing.zone("")
    now = at("2024-05-01T12:10:05Z")
    due = ticks.due_ticks(every_ten, utc, at("2024-05-01T12:00:00Z"), now, window=30)
    assert due == [
        at("2024-05-01T12:09:40Z"),
        at("2024-05-01T12:09:50Z"),
        at("2024-05-01T12:10:00Z"),
    ]


def test_every_stays_on_its_grid_across_a_long_pause() -> None:
    every = cron.parse_schedule("@every 7s")
    utc = firing.zone("")
    last = at("2024-05-01T12:00:00.500000Z")
    now = last + timedelta(seconds=700)
    due = ticks.due_ticks(every, utc, last, now, window=20)
    assert [(t - last).total_seconds() for t in due] == [686.0, 693.0, 700.0]


def test_the_event_of_a_tick() -> None:
    source = parse(
        data='{"message": "hello"}',
        contentType="application/json",
        ceOverrides={"extensions": {"team": "kawa", "type": "ignored"}},
    )
    event = ticks.ping_event(source, at("2024-05-01T12:00:05Z"), "id-1")
    assert event.attributes == {
        "specversion": "1.0",
        "id": "id-1",
        "source": "/apis/v1/namespaces/ns/pingsources/p",
        "type": "dev.knative.sources.ping",
        "time": "2024-05-01T12:00:05Z",
        "datacontenttype": "application/json",
        "team": "kawa",
    }
    assert event.data == b'{"message": "hello"}'


def test_binary_data_and_no_content_type() -> None:
    raw = bytes([0, 1, 2, 255])
    source = parse(dataBase64=base64.b64encode(raw).decode())
    event = ticks.ping_event(source, at("2024-05-01T12:00:05.250000Z"), "id-2")
    assert event.data == raw
    assert "datacontenttype" not in event.attributes
    assert event.attributes["time"] == "2024-05-01T12:00:05.250000Z"
    assert ticks.ping_event(parse(), at("2024-05-01T12:00:05Z"), "id-3").data is None
