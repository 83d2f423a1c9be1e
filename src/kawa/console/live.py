"""What the live-events endpoint sends: which events pass a watcher's filter, and how each
becomes a server-sent event (the pure part of :mod:`kawa.console.server`).

A watcher filters by exact ``type`` and ``source`` and by a CloudEvents SQL expression, all
optional and all of them must pass; a CESQL expression that fails to evaluate on an event
means "no match", as a trigger's CESQL filter does. Each event is one SSE message whose
``id`` is the record's seq in the broker's stream and whose ``data`` is one line of JSON:
``{"seq", "appendedAt", "event"}`` with the event in the CloudEvents JSON format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson

from kawa.cesql import compile_expression
from kawa.cloudevents.event import CloudEvent
from kawa.cloudevents.jsonformat import to_json_obj
from kawa.errors import FieldError, ValidationError

MAX_EXPRESSION = 4096
"""The longest CESQL expression a watcher may give (characters)."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a watcher wants."""

    type: str = ""
    source: str = ""
    expression: str = ""
    cesql: Callable[[CloudEvent], bool] | None = None
    """The compiled ``expression`` (None: no expression)."""

    def matches(self, event: CloudEvent) -> bool:
        if self.type and event.type != self.type:
            return False
        if self.source and event.source != self.source:
            return False
        return self.cesql is None or self.cesql(event)


def event_filter(query: Mapping[str, str]) -> EventFilter:
    """The filter of a request's query (``type``, ``source``, ``cesql``); a
    :class:`ValidationError` naming the parameter for a CESQL expression that does not
    compile or is too long."""
    expression = query.get("cesql", "").strip()
    matcher = None
    if expression:
        if len(expression) > MAX_EXPRESSION:
            raise ValidationError.single(
                "cesql", f"expected at most {MAX_EXPRESSION} characters, got {len(expression)}"
            )
        try:
            matcher = compile_expression(expression).matches
        except ValidationError as err:
            raise ValidationError([FieldError("cesql", str(err))]) from None
    return EventFilter(query.get("type", ""), query.get("source", ""), expression, matcher)


def message(seq: int, appended_at: float, event: CloudEvent) -> bytes:
    """One server-sent event for the record ``seq`` holding ``event``."""
    data = orjson.dumps({"seq": seq, "appendedAt": appended_at, "event": to_json_obj(event)})
    return b"id: %d\nevent: cloudevent\ndata: %s\n\n" % (seq, data)


def comment(text: str) -> bytes:
    """An SSE comment line (clients ignore it; it keeps idle connections open)."""
    return b": " + text.replace("\n", " ").encode() + b"\n\n"
