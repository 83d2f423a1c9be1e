"""When a PingSource fires, and the event it sends: pure functions, no I/O, no event loop.

A *tick* is one scheduled firing time, an aware datetime in UTC. The schedule is evaluated on
the wall clock of the source's ``spec.timezone`` (UTC when unset), the way cron reads it:
``0 9 * * *`` in ``Europe/Paris`` fires at 09:00 Paris time, 07:00 or 08:00 UTC. Across a
daylight-saving change a wall time that does not exist fires at the same instant one hour
later (``zoneinfo`` semantics) and a wall time that happens twice fires once, the first time.

The wall-clock firing times come from :mod:`.firing`; :func:`due_ticks` is the restart rule
(``docs/sources-ping.md``): the ticks after the last one fired, but none older than the
catch-up window. :func:`ping_event` builds the event of one
tick. Called by :mod:`kawa.sources.ping.scheduler`.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

from kawa.apis.sources import cron, pingsource
from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.sources import sink
from kawa.sources.ping import firing

CATCH_UP_WINDOW: Final = 60.0
"""Seconds: a tick missed while kawa was down fires late when it is at most this old."""


def zone(name: str) -> tzinfo:
    """The time zone of ``spec.timezone`` ("" is UTC)."""
    return zoneinfo.ZoneInfo(name) if name else UTC


def next_tick(schedule: cron.CronSchedule, tz: tzinfo, after: datetime) -> datetime:
    """The first tick strictly after ``after`` (an aware datetime), in UTC."""
    candidate = firing.next_after(schedule, after.astimezone(tz))
    # A wall clock turned back (end of daylight-saving time) can give a candidate that is
    # earlier as an instant: move on until it is later.
    while candidate.astimezone(UTC) <= after:
        candidate = firing.next_after(schedule, candidate)
    return candidate.astimezone(UTC)


def ticks_between(
    schedule: cron.CronSchedule, tz: tzinfo, after: datetime, until: datetime
) -> Iterator[datetime]:
    """Every tick ``t`` with ``after < t <= until``, oldest first."""
    t = after
    while True:
        t = next_tick(schedule, tz, t)
        if t > until:
            return
        yield t


def due_ticks(
    schedule: cron.CronSchedule,
    tz: tzinfo,
    last: datetime,
    now: datetime,
    *,
    window: float = CATCH_UP_WINDOW,
) -> list[datetime]:
    """The ticks to fire at ``now`` when ``last`` is the last tick fired (or the moment the
    source was first scheduled): those after ``last`` and at most ``window`` seconds old."""
    floor = now - timedelta(seconds=window)
    start = last
    if last < floor:
        if schedule.every is not None:  # stay on the @every grid that started at ``last``
            steps = math.floor((floor - last).total_seconds() / schedule.every)
            start = last + timedelta(seconds=steps * schedule.every)
        else:
            start = floor
    return list(ticks_between(schedule, tz, start, now))


def format_tick(tick: datetime) -> str:
    """A tick as the ``time`` attribute: RFC 3339 in UTC, fractions only when there are any."""
    utc = tick.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def ping_event(source: pingsource.PingSource, tick: datetime, event_id: str) -> CloudEvent:
    """The event of one tick: Knative's type and source, ``time`` = the tick, the spec's
    data and ``contentType``, then ``ceOverrides`` extensions."""
    attributes: dict[str, AttributeValue] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source.event_source,
        "type": pingsource.EVENT_TYPE,
        "time": format_tick(tick),
    }
    if source.content_type:
        attributes["datacontenttype"] = source.content_type
    return sink.apply_overrides(CloudEvent(attributes, source.data), source.ce_overrides)
