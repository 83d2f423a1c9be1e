"""When a PingSource fires, and the event it sends: pure functions, no I/O, no event loop.

A *tick* is one scheduled firing time, an aware datetime in UTC. The schedule is evaluated on
the wall clock of the source's ``spec.timezone`` (UTC when unset), the way cron reads it:
``0 9 * * *`` in ``Europe/Paris`` fires at 09:00 Paris time, 07:00 or 08:00 UTC. Across a
daylight-saving change a wall time that does not exist fires at the same instant one hour
later (``zoneinfo`` semantics) and a wall time that happens twice fires once, the first time.

The firing times on a wall clock come from :mod:`kawa.cron`; :func:`due_ticks` is the
restart rule (``docs/sources-ping.md``): the ticks after the last one fired, but none older than the
catch-up window. :func:`ping_event` builds the event of one
tick. Called by :mod:`kawa.sources.ping.scheduler`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

from kawa.apis import cron
from kawa.apis.sources import pingsource
from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.cron import ticks_between
from kawa.sources import sink

CATCH_UP_WINDOW: Final = 60.0
"""Seconds: a tick missed while kawa was down fires late when it is at most this old."""


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
    spec = source.spec
    if spec.content_type:
        attributes["datacontenttype"] = spec.content_type
    return sink.apply_overrides(CloudEvent(attributes, spec.event_data), spec.extensions)
