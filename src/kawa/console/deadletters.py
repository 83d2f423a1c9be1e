"""A broker's recently dead-lettered events: from its lineage (:mod:`kawa.dispatch.lineage`),
those sent to a dead-letter sink; from its dead-letter store
(:mod:`kawa.dispatch.deadletter_store`), those kept there (:func:`stored`).

:func:`collect` is the pure part: it reads decoded lineage notes in order and keeps, for each
``dead-lettered`` outcome, the trigger, when, the last delivery attempt (its status and error:
why the event was dead-lettered) and the dead-letter sink it went to; the newest
:data:`MAX_LIMIT` at most. The console's endpoint (:mod:`kawa.console.server`) feeds it the
broker's latest lineage records and adds each event's id, source and type from the log, then
merges the store's entries in (:func:`merge`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Final

from kawa.dispatch.deadletters import DeadLetter

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200
"""Dead-lettered events one answer lists at most (the newest)."""
SCAN_RECORDS: Final = 500
"""Lineage records (each up to :data:`kawa.dispatch.lineage.PER_PAYLOAD` notes) read at most:
the latest ones, so an answer's cost is bounded whatever the log retains."""


def collect(
    notes: Iterable[Mapping[str, Any]], trigger: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` dead-letterings among ``notes`` (of ``trigger`` alone, when
    given), newest first: ``seq``, ``at``, ``trigger``, ``deadLetterSink``, ``status`` and
    ``error`` of the last delivery attempt, and the outcome's ``error``."""
    attempts: dict[tuple[int, str], dict[str, Any]] = {}
    found: deque[dict[str, Any]] = deque(maxlen=max(limit, 0))
    for note in notes:
        name = note.get("trigger")
        if not isinstance(name, str) or (trigger is not None and name != trigger):
            continue
        what, seq = note.get("what"), note["seq"]
        if what == "attempt":
            seen = attempts.setdefault((seq, name), {})
            seen["delivery" if note.get("stage") == "delivery" else "deadLetter"] = note
        elif what in ("delivered", "dead-lettered", "dropped", "kept", "stored"):
            seen = attempts.pop((seq, name), {})
            if what != "dead-lettered":
                continue
            last = seen.get("delivery") or {}
            sink = seen.get("deadLetter") or {}
            found.append(
                {
                    "seq": seq,
                    "at": note["at"],
                    "trigger": name,
                    "deadLetterSink": sink.get("destination"),
                    "status": last.get("status"),
                    "attempts": last.get("attempt"),
                    "error": note.get("error") or last.get("error"),
                }
            )
    return list(reversed(found))


def stored(entry: DeadLetter) -> dict[str, Any]:
    """An entry of the dead-letter store in the answer's shape (``store``: its id there)."""
    summary = entry.summary()
    return {
        "seq": entry.seq,
        "at": entry.at,
        "trigger": entry.name,
        "deadLetterSink": None,
        "status": entry.status,
        "attempts": entry.attempts,
        "error": entry.error,
        "event": summary["event"],
        "store": entry.id,
    }


def merge(
    from_lineage: list[dict[str, Any]], from_store: Iterable[DeadLetter], limit: int
) -> list[dict[str, Any]]:
    """Both lists as one, newest first, ``limit`` at most."""
    merged = from_lineage + [stored(entry) for entry in from_store]
    merged.sort(key=lambda found: float(found["at"]), reverse=True)
    return merged[:limit]
