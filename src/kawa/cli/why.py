"""``kawa why --broker NAME --event FILE``: which triggers an event would reach, and why not.

The event (a structured-mode JSON CloudEvent, from a file or ``-`` for stdin) is checked
here first, so that a bad one is one line naming the attribute; then it is POSTed to the
broker's ``why`` subresource (:mod:`kawa.observability.why`), and the answer is printed as a
table, one row per trigger: its Ready status, whether its filters match, and why not (the
path of the filter that rejected the event, the attribute and values; for CESQL the
sub-expression and the attributes it read; for ``any`` each alternative on its own line).
``--output json`` prints the answer as kawa gave it. Called by :mod:`kawa.cli.main`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from kawa.cli.client import CliError, unexpected_answer
from kawa.cloudevents import CloudEventError, jsonformat


def read_event(name: str) -> Any:
    """The JSON of the event in file ``name`` (``-``: stdin), checked to be a CloudEvent."""
    where = "- (stdin)" if name == "-" else name
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as err:
        raise CliError(f"--event: cannot read {where}: {err.strerror or err}") from None
    try:
        jsonformat.decode_structured(raw)
    except CloudEventError as err:
        problems = "; ".join(str(e) for e in err.errors)
        raise CliError(f"--event {where} is not a valid CloudEvent: {problems}") from None
    return orjson.loads(raw)


def path(namespace: str, broker: str) -> str:
    return f"/apis/eventing.knative.dev/v1/namespaces/{namespace}/brokers/{broker}/why"


def render(answer: Mapping[str, Any], where: str) -> str:
    """The answer as a table (see the module); CliError for an answer kawa would not give."""
    broker, event, triggers = (answer.get(k) for k in ("broker", "event", "triggers"))
    if not isinstance(broker, Mapping) or not isinstance(event, Mapping):
        raise unexpected_answer(where, "expected broker and event objects")
    if not isinstance(triggers, list) or not all(isinstance(t, Mapping) for t in triggers):
        raise unexpected_answer(where, "expected a triggers array of objects")
    name = f"{broker.get('namespace')}/{broker.get('name')}"
    lines = [
        f"Broker {name}: {_readiness(broker.get('ready'))}",
        f"Event: id={event.get('id')} source={event.get('source')} type={event.get('type')}",
        "",
    ]
    if not triggers:
        lines.append(f"no triggers on broker {name}")
        return "\n".join(lines)
    rows = [["TRIGGER", "READY", "MATCHED", "WHY"]]
    more: list[list[str]] = [[]]
    for trigger in triggers:
        state = trigger.get("ready")
        status = str(state.get("status", "")) if isinstance(state, Mapping) else ""
        matched = trigger.get("matched") is True
        why, extra = _why(trigger)
        rows.append([str(trigger.get("name", "")), status, "yes" if matched else "no", why])
        more.append(extra)
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    indent = sum(widths) + 3 * len(widths)
    for row, extra in zip(rows, more, strict=True):
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[3]]
        lines.append("   ".join(cells).rstrip())
        lines.extend(" " * indent + line for line in extra)
    delivering = sum(1 for t in triggers if t.get("wouldDeliver") is True)
    lines += ["", f"{delivering} of {len(triggers)} triggers would deliver the event"]
    return "\n".join(lines)


def _readiness(state: Any) -> str:
    if not isinstance(state, Mapping):
        return "Ready unknown"
    if state.get("status") == "True":
        return "Ready"
    detail = ": ".join(str(state[k]) for k in ("reason", "message") if state.get(k))
    return f"not Ready ({detail or 'status ' + str(state.get('status'))})"


def _why(trigger: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The WHY cell of a trigger and the lines under it."""
    if "error" in trigger:
        return f"cannot be explained: {trigger['error']}", []
    if trigger.get("matched") is True:
        filters = trigger.get("filters")
        why = f"{filters} matched" if filters else "no filters: every event matches"
        if trigger.get("wouldDeliver") is not True:
            why += f"; not delivered: the trigger is {_readiness(trigger.get('ready'))}"
        return why, []
    rejection = trigger.get("rejection")
    if not isinstance(rejection, Mapping):
        return "not matched", []
    extra: list[str] = []
    _alternatives(rejection, extra, 2)
    return _line(rejection), extra


def rejection_lines(rejection: Mapping[str, Any]) -> list[str]:
    """A rejection as lines: its path and reason, then each alternative indented (for
    ``kawa trace``)."""
    out = [_line(rejection)]
    _alternatives(rejection, out, 2)
    return out


def _line(rejection: Mapping[str, Any]) -> str:
    return f"{rejection.get('path')}: {rejection.get('reason')}"


def _alternatives(rejection: Mapping[str, Any], out: list[str], depth: int) -> None:
    for alternative in rejection.get("alternatives") or []:
        if isinstance(alternative, Mapping):
            out.append(" " * depth + _line(alternative))
            _alternatives(alternative, out, depth + 2)
