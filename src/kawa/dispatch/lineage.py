"""Lineage: what happened to each event a broker or a channel keeps, recorded beside it in the
event log.

For a broker whose lineage is on (the default; the Broker annotation ``kawa.dev/lineage:
"off"`` turns it off), the data plane notes, keyed by the event's seq in the broker's stream
(a channel's the same, the InMemoryChannel's annotation turning it off, each subscriber
named by its Subscription's uid and without filter decisions):

- ``accepted``: when, by which kawa process (``node`` or ``node/worker``), and for a reply
  the trigger and event it answered;
- ``filter``: each trigger's decision, matched or not, with a fingerprint of the trigger's
  filters. Only the verdict: *why* not is computed when the lineage is read
  (:mod:`kawa.observability.trace`), from the stored event and the trigger's filters then;
- ``attempt``: each delivery and dead-letter attempt (time, destination, status, latency,
  error), from the sender's trail (:class:`kawa.delivery.sender.Attempt`);
- ``outcome``: delivered, dead-lettered, dropped or kept (the dead-letter sink failed too),
  and ``reply``: the id of a reply handed on, or why it was dropped.

A note is a tuple appended to an in-memory list (no I/O, no formatting on the delivery path).
:meth:`Lineage.run` appends every :data:`FLUSH_INTERVAL` what was noted, as JSON arrays of
notes, :data:`PER_PAYLOAD` a record, to the broker's lineage stream ``lineage:<stream>`` in
the same event log (so it is durable on every backend, readable by every process sharing the
log, and group-committed with the events on SQLite). That stream has no cursors: the log's
trim deletes its records by age, with the same retention as the events. Lineage is a
best-effort record: notes still buffered when a process dies are lost, and a log that is full
or failing drops them (with a warning) rather than hold any event. See ADR "lineage".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final

import orjson

from kawa.delivery.sender import Attempt
from kawa.errors import KawaError
from kawa.eventlog.base import EventLog

log = logging.getLogger(__name__)

ANNOTATION: Final = "kawa.dev/lineage"
"""The Broker annotation that turns its lineage off (``"off"``); on by default."""
FLUSH_INTERVAL: Final = 0.2
"""Seconds between appends of the buffered notes."""
PER_PAYLOAD: Final = 500
"""Notes per record of the lineage stream (a record stays well under JetStream's 1 MiB)."""
MAX_BUFFERED: Final = 200_000
"""Notes buffered per stream at most; more (the log cannot keep up) are dropped and counted."""

# The kinds of notes: their first element. The layouts are ``decode``'s.
ACCEPTED: Final = "a"
FILTER: Final = "f"
ATTEMPT: Final = "t"
OUTCOME: Final = "o"
REPLY: Final = "r"

Note = tuple[Any, ...]


def lineage_stream(stream: str) -> str:
    """The lineage stream of the event-log stream ``stream`` (``lineage:broker:<uid>``)."""
    return f"lineage:{stream}"


def enabled(annotations: Mapping[str, Any] | None) -> bool:
    """Whether a Broker with these ``metadata.annotations`` keeps lineage."""
    value = (annotations or {}).get(ANNOTATION)
    return not (isinstance(value, str) and value.strip().lower() in ("off", "false"))


def fingerprint(filter_spec: str) -> str:
    """A short digest of a trigger's filters (``Target.filter_spec``), stored with each
    decision, so a reader can tell when the trigger's filters changed since."""
    return hashlib.blake2b(filter_spec.encode(), digest_size=6).hexdigest()


class StreamLineage:
    """The notes of one broker stream, buffered until the next flush."""

    __slots__ = ("lost", "notes", "who")

    def __init__(self, who: str) -> None:
        self.who = who
        self.notes: list[bytes] = []
        """Each note as its JSON array: bytes, which the garbage collector does not track
        (as tuples, the 4-20 notes of each event in the last 200 ms were most of what every
        young collection scanned and moved on under load; issue 18)."""
        self.lost = 0

    def _add(self, note: Note) -> None:
        if len(self.notes) < MAX_BUFFERED:
            try:
                self.notes.append(orjson.dumps(note))
            except TypeError:  # a str JSON cannot hold (a lone surrogate), or another type
                self.notes.append(orjson.dumps([_storable(value) for value in note]))
        else:
            self.lost += 1

    def accepted(self, seqs: list[int], at: float, reply_of: str = "") -> None:
        """Events stored at ``at`` (before their append: their consumers may decide before
        the append returns)."""
        for seq in seqs:
            self._add((ACCEPTED, seq, at, self.who, reply_of))

    def trigger(self, name: str, uid: str, filter_spec: str) -> TriggerLineage:
        """The notes of one trigger's consumer on this stream."""
        return TriggerLineage(self, name, uid, fingerprint(filter_spec))

    def subscription(self, uid: str) -> TriggerLineage:
        """The notes of one channel subscriber's consumer, named by its Subscription's uid (a
        reader maps it to the Subscription's name); it has no filter, so no decisions."""
        return SubscriptionLineage(self, uid, uid, "")


class TriggerLineage:
    """What one trigger's consumer notes (see the module docstring)."""

    __slots__ = ("_fingerprint", "_name", "_stream", "_uid")

    def __init__(self, stream: StreamLineage, name: str, uid: str, fingerprint: str) -> None:
        self._stream = stream
        self._name = name
        self._uid = uid
        self._fingerprint = fingerprint

    def decided(self, seq: int, matched: bool) -> None:
        self._stream._add(
            (FILTER, seq, time.time(), self._name, self._uid, matched, self._fingerprint)
        )

    def attempts(self, seq: int, stage: str, url: str, trail: list[Attempt]) -> None:
        """The attempts of a ``delivery`` or ``dead-letter`` to ``url``."""
        for n, attempt in enumerate(trail, 1):
            self._stream._add(
                (
                    ATTEMPT,
                    seq,
                    attempt.at,
                    self._name,
                    stage,
                    url,
                    n,
                    attempt.status,
                    round(attempt.seconds, 6),
                    attempt.error,
                )
            )

    def outcome(self, seq: int, outcome: str, error: str | None = None) -> None:
        self._stream._add((OUTCOME, seq, time.time(), self._name, outcome, error))

    def reply(self, seq: int, reply_id: str, dropped: str | None = None) -> None:
        self._stream._add((REPLY, seq, time.time(), self._name, reply_id, dropped))


class SubscriptionLineage(TriggerLineage):
    """What a channel subscriber's consumer notes: every event is its to deliver."""

    __slots__ = ()

    def decided(self, seq: int, matched: bool) -> None:
        pass


class Lineage:
    """The lineage of every broker or channel stream of one process; :meth:`run` appends it."""

    def __init__(self, event_log: EventLog, who: str, *, interval: float = FLUSH_INTERVAL) -> None:
        self._log = event_log
        self._who = who
        self._interval = interval
        self._streams: dict[str, StreamLineage] = {}

    def stream(self, stream: str) -> StreamLineage:
        found = self._streams.get(stream)
        if found is None:
            found = self._streams[stream] = StreamLineage(self._who)
        return found

    def forget(self, stream: str) -> None:
        """Drop what is buffered for a deleted stream."""
        self._streams.pop(stream, None)

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._interval)
                await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush())

    async def flush(self) -> None:
        """Append what is buffered (a failure drops it, with a warning)."""
        for stream, buffered in list(self._streams.items()):
            notes, buffered.notes = buffered.notes, []
            if buffered.lost:
                log.warning("lineage of %s: %d notes dropped (buffer full)", stream, buffered.lost)
                buffered.lost = 0
            if not notes:
                continue
            payloads = [
                b"[" + b",".join(notes[i : i + PER_PAYLOAD]) + b"]"
                for i in range(0, len(notes), PER_PAYLOAD)
            ]
            try:
                await self._log.append(lineage_stream(stream), payloads)
            except KawaError as err:
                log.warning("lineage of %s: %d notes dropped: %s", stream, len(notes), err)


def _storable(value: Any) -> Any:
    """``value`` as JSON can hold it (an error text may carry bytes a sender sent)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else repr(value)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def decode(payload: bytes) -> Iterator[dict[str, Any]]:
    """The notes of one lineage record as JSON objects (unreadable ones are skipped)."""
    try:
        notes = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return
    if not isinstance(notes, list):
        return
    for note in notes:
        if isinstance(note, list) and len(note) >= 3:
            with contextlib.suppress(ValueError, TypeError):
                yield _fields(note)


def _fields(note: list[Any]) -> dict[str, Any]:
    kind, seq, at = note[0], int(note[1]), float(note[2])
    base: dict[str, Any] = {"seq": seq, "at": at}
    if kind == ACCEPTED:
        _, _, _, who, reply_of = note
        return base | {"what": "accepted", "by": who, "replyOf": reply_of or None}
    if kind == FILTER:
        _, _, _, trigger, uid, matched, print_ = note
        return base | {
            "what": "filter",
            "trigger": trigger,
            "uid": uid,
            "matched": bool(matched),
            "fingerprint": print_,
        }
    if kind == ATTEMPT:
        _, _, _, trigger, stage, url, n, status, seconds, error = note
        return base | {
            "what": "attempt",
            "trigger": trigger,
            "stage": stage,
            "destination": url,
            "attempt": n,
            "status": status,
            "seconds": seconds,
            "error": error,
        }
    if kind == OUTCOME:
        _, _, _, trigger, outcome, error = note
        return base | {"what": outcome, "trigger": trigger, "error": error}
    if kind == REPLY:
        _, _, _, trigger, reply_id, dropped = note
        return base | {"what": "reply", "trigger": trigger, "replyId": reply_id, "dropped": dropped}
    raise ValueError(kind)
