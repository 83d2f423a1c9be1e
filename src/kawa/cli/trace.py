"""``kawa trace --broker NAME --id ID [--source S]``: what happened to an event, as a timeline.

Asks the broker's ``trace`` subresource (:mod:`kawa.observability.trace`; with ``--channel
NAME`` the channel's, :mod:`kawa.observability.channel_trace`: the InMemoryChannel of that
name, which is also a Channel's backing one, its subscribers named by Subscription) and prints, for
each stored event with that id, one line per step in time order: accepted (by which kawa
process), each trigger's decision (and why not, the filter path and reason; for CESQL the
sub-expression and the values it read), each delivery and dead-letter attempt (destination,
status, latency, error), the outcome and the reply's id. ``--output json`` prints kawa's
answer as it is. Called by :mod:`kawa.cli.main`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from kawa.cli.client import unexpected_answer
from kawa.cli.why import rejection_lines


def path(
    namespace: str, broker: str, event_id: str, source: str | None, *, channel: bool = False
) -> str:
    """The trace of the broker (``channel``: the InMemoryChannel) named ``broker``."""
    query = {"id": event_id} | ({} if source is None else {"source": source})
    owner = (
        f"messaging.knative.dev/v1/namespaces/{namespace}/inmemorychannels"
        if channel
        else f"eventing.knative.dev/v1/namespaces/{namespace}/brokers"
    )
    return f"/apis/{owner}/{broker}/trace?{urllib.parse.urlencode(query)}"


def render(answer: Mapping[str, Any], where: str) -> str:
    """The answer as timelines (see the module); CliError for an answer kawa would not give."""
    kind = "Channel" if "channel" in answer else "Broker"
    broker, events = answer.get(kind.lower()), answer.get("events")
    if not isinstance(broker, Mapping):
        raise unexpected_answer(where, "expected a broker or channel object")
    if not isinstance(events, list) or not all(isinstance(e, Mapping) for e in events):
        raise unexpected_answer(where, "expected an events array of objects")
    name = f"{broker.get('namespace')}/{broker.get('name')}"
    lines = [f"{kind} {name}: lineage {'on' if broker.get('lineage') else 'off'}"]
    for found in events:
        event = found.get("event") or {}
        lines += [
            "",
            f"Event: id={event.get('id')} source={event.get('source')} type={event.get('type')}"
            f" (seq {found.get('seq')}, stored {found.get('appendedAt')})",
        ]
        steps = found.get("timeline") or []
        if not steps:
            lines.append("  no lineage recorded")
        for step in steps:
            if isinstance(step, Mapping):
                head, *more = _step(step)
                lines.append(f"  {step.get('at')}  {head}")
                lines.extend(" " * 4 + line for line in more)
    return "\n".join(lines)


def _step(step: Mapping[str, Any]) -> list[str]:
    what = step.get("what")
    if "subscription" in step:  # a channel's subscriber
        trigger = f"subscription {step['subscription']}"
    else:
        trigger = f"trigger {step.get('trigger')}"
    if what == "accepted":
        of = step.get("replyOf")
        return [f"accepted by {step.get('by')}" + (f" (reply of {of})" if of else "")]
    if what == "filter":
        if step.get("matched"):
            return [f"{trigger}: matched"]
        lines = [f"{trigger}: not matched"]
        rejection = step.get("rejection")
        if isinstance(rejection, Mapping):
            lines += rejection_lines(rejection)  # for CESQL: the part, its error, the values
        if step.get("note"):
            lines.append(str(step["note"]))
        return lines
    if what == "attempt":
        status = step.get("status")
        answer = f"HTTP {status}" if status is not None else "no answer"
        ms = float(step.get("seconds") or 0) * 1000
        line = (
            f"{trigger}: {step.get('stage')} attempt {step.get('attempt')} to"
            f" {step.get('destination')}: {answer} in {ms:.1f} ms"
        )
        if step.get("error"):
            line += f" ({step['error']})"
        return [line]
    if what == "reply":
        dropped = step.get("dropped")
        verb = f"dropped ({dropped})" if dropped else "handed on"
        return [f"{trigger}: reply {step.get('replyId')} {verb}"]
    line = f"{trigger}: {what}"
    if step.get("error"):
        line += f" ({step['error']})"
    return [line]
