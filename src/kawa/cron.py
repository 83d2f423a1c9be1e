"""When a cron schedule fires: the first firing time after a moment, on its wall clock.

A :class:`~kawa.apis.cron.CronSchedule` (parsed and checked at apply time by
:mod:`kawa.apis.cron`) says which seconds, minutes, hours, days and months are
allowed; :func:`next_after` finds the first moment after another that they all allow,
looking at most five years ahead. As in cron, when both day fields are restricted a day
matching either one fires. ``@every`` schedules fire every interval from the given moment.
:func:`next_tick` and :func:`ticks_between` read the schedule on a time zone's wall clock
and answer in UTC.

Pure (no I/O, no clock). Shared by two shells, so it sits below both (ADR 0017): the ping
source (:mod:`kawa.sources.ping.ticks`) and the CronJob controller
(:mod:`kawa.controllers.batch`).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

from kawa.apis import cron

LOOK_AHEAD: Final = timedelta(days=366 * 5)
"""How far :func:`next_after` looks for a firing time (February 29 recurs every 4 years)."""


def _day_matches(schedule: cron.CronSchedule, moment: datetime) -> bool:
    dom = moment.day in schedule.days_of_month
    dow = (moment.isoweekday() % 7) in schedule.days_of_week
    if schedule.any_day_of_month or schedule.any_day_of_week:
        return dom and dow
    return dom or dow


def matches(schedule: cron.CronSchedule, moment: datetime) -> bool:
    """Whether ``schedule`` fires at ``moment`` (to the second; never for ``@every``)."""
    if schedule.every is not None:
        return False
    return (
        moment.month in schedule.months
        and _day_matches(schedule, moment)
        and moment.hour in schedule.hours
        and moment.minute in schedule.minutes
        and moment.second in schedule.seconds
    )


def next_after(schedule: cron.CronSchedule, moment: datetime) -> datetime:
    """The first firing time strictly after ``moment`` (in ``moment``'s time zone).

    ``ValueError`` when there is none within :data:`LOOK_AHEAD`.
    """
    if schedule.every is not None:
        return moment + timedelta(seconds=schedule.every)
    t = moment.replace(microsecond=0) + timedelta(seconds=1)
    limit = t + LOOK_AHEAD
    while t < limit:
        if t.month not in schedule.months:
            year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
            t = t.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
        elif not _day_matches(schedule, t):
            t = (t + timedelta(days=1)).replace(hour=0, minute=0, second=0)
        elif t.hour not in schedule.hours:
            t = (t + timedelta(hours=1)).replace(minute=0, second=0)
        elif t.minute not in schedule.minutes:
            t = (t + timedelta(minutes=1)).replace(second=0)
        elif t.second not in schedule.seconds:
            t += timedelta(seconds=1)
        else:
            return t
    raise ValueError("the schedule never fires")


def zone(name: str) -> tzinfo:
    """The time zone called ``name`` (an IANA name; "" is UTC)."""
    return zoneinfo.ZoneInfo(name) if name else UTC


def next_tick(schedule: cron.CronSchedule, tz: tzinfo, after: datetime) -> datetime:
    """The first firing time strictly after ``after`` (an aware datetime) on ``tz``'s wall
    clock, in UTC."""
    candidate = next_after(schedule, after.astimezone(tz))
    # A wall clock turned back (end of daylight-saving time) can give a candidate that is
    # earlier as an instant: move on until it is later.
    while candidate.astimezone(UTC) <= after:
        candidate = next_after(schedule, candidate)
    return candidate.astimezone(UTC)


def ticks_between(
    schedule: cron.CronSchedule, tz: tzinfo, after: datetime, until: datetime
) -> Iterator[datetime]:
    """Every firing time ``t`` with ``after < t <= until``, oldest first."""
    t = after
    while True:
        t = next_tick(schedule, tz, t)
        if t > until:
            return
        yield t
