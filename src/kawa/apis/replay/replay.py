"""The Replay kind (kawa.dev/v1alpha1): archived events of a Broker delivered again to one
Trigger.

A Replay names a Broker of its namespace, one Trigger of that Broker and a time window:

* ``spec.broker``, ``spec.trigger`` -- where the events come from and the one Trigger whose
  subscriber gets them again (with the Trigger's filters and delivery settings; the
  Broker's other Triggers see nothing);
* ``spec.from`` and ``spec.to`` (RFC 3339; ``to`` defaults to the Replay's start) -- the
  events the Broker accepted in ``[from, to]`` are replayed, in the order it accepted them.
  Events the Broker accepted after the Replay started are never replayed (the Trigger gets
  them anyway);
* ``spec.filter`` -- a CloudEvents SQL expression an event must also meet;
* ``spec.cancelled`` -- ``true`` stops the Replay for good (deleting it does too).

The spec's fields other than ``cancelled`` are immutable: a Replay is one run. Each replayed
event carries the :data:`EXTENSION` attribute with the Replay's name.

Status: ``window`` (the Broker's sequence numbers the time window covers, fixed when the
Replay starts), ``position`` (every event of the window up to that seq is finished: a Replay
whose kawa restarts resumes after it), ``progress`` (counts), ``startTime`` and
``completionTime``; the conditions ``BrokerReady`` and ``TriggerReady`` (from which ``Ready``
is derived: the Broker and the Trigger exist and the Trigger is the Broker's and Ready) and
``Succeeded`` (``Unknown`` while it runs, ``True`` once every event of the window is
finished, ``False`` when cancelled or when the Broker was re-created).

Declared as :data:`kawa.apis.replay.REPLAY`; run by :mod:`kawa.broker.replays`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from pydantic import AfterValidator

from kawa import cesql
from kawa.apis import duck
from kawa.apis.conditions import ConditionSet, get_condition
from kawa.apis.model.base import Context, Immutable, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.types import DateTime, Text
from kawa.cloudevents.timestamp import parse_timestamp
from kawa.errors import FieldError

API_VERSION: Final = "kawa.dev/v1alpha1"
KIND: Final = "Replay"

EXTENSION: Final = "kawareplay"
"""The CloudEvents extension attribute every replayed event carries: the Replay's name."""

BROKER_READY: Final = "BrokerReady"
TRIGGER_READY: Final = "TriggerReady"
SUCCEEDED: Final = "Succeeded"
"""Not part of ``Ready``: ``Unknown`` while the Replay runs, then ``True`` or ``False``."""
REPLAY_CONDITIONS: Final = ConditionSet((BROKER_READY, TRIGGER_READY))

# Reasons of Succeeded.
PENDING: Final = "Pending"
RUNNING: Final = "Running"
COMPLETED: Final = "Completed"
CANCELLED: Final = "Cancelled"
ARCHIVE_GONE: Final = "ArchiveGone"

_ONE_RUN: Final = "a Replay is one run: make another Replay"


def _cesql(expression: str) -> str:
    if not expression.strip():
        raise ValueError("must be a non-empty CloudEvents SQL expression")
    try:
        cesql.compile_expression(expression)
    except cesql.CesqlError as err:
        raise ValueError(f"invalid CloudEvents SQL expression: {err.message}") from None
    return expression


CesqlText = Annotated[str, AfterValidator(_cesql)]
"""A CloudEvents SQL expression (refused at admission when it does not compile)."""


class ReplaySpec(Model):
    """The desired state of the Replay."""

    broker: Annotated[
        Text, doc("The Broker (in the Replay's namespace) whose events are replayed."), Immutable()
    ]
    trigger: Annotated[
        Text,
        doc(
            "The Trigger of that Broker whose subscriber gets the events again, with the "
            "Trigger's filters and delivery settings; no other Trigger sees them."
        ),
        Immutable(_ONE_RUN),
    ]
    from_: Annotated[
        DateTime,
        doc(
            "The start of the window (RFC 3339): events the Broker accepted at or after it.",
            alias="from",
        ),
        Immutable(_ONE_RUN),
    ]
    to: Annotated[
        DateTime | None,
        doc(
            "The end of the window (RFC 3339): events the Broker accepted at or before it "
            "(default, and at most: when the Replay starts)."
        ),
        Immutable(_ONE_RUN),
    ] = None
    filter: Annotated[
        CesqlText | None,
        doc("A CloudEvents SQL expression the replayed events must also meet."),
        Immutable(_ONE_RUN),
    ] = None
    cancelled: Annotated[
        bool,
        doc("True stops the Replay for good (what it delivered stays delivered)."),
    ] = False

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.to is not None and parse_timestamp(self.to) < parse_timestamp(self.from_):
            yield FieldError("to", f"must not be before from ({self.from_}), got {self.to}")


class Replay(KubeObject):
    """A Replay delivers the events a Broker accepted in a time window again, to one of its
    Triggers."""

    spec: Annotated[ReplaySpec, doc("The desired state of the Replay.")]


class ReplayWindow(Model):
    """The Broker's sequence numbers the time window covers, fixed when the Replay starts."""

    broker_uid: Annotated[str, doc("The uid of the Broker whose events these are.")] = ""
    first_seq: Annotated[int, doc("The first event of the window.", ge=0)] = 0
    last_seq: Annotated[
        int, doc("The last event of the window (below firstSeq: the window is empty).", ge=0)
    ] = 0


class ReplayProgress(Model):
    """What became of the events of the window so far."""

    records: Annotated[int, doc("Events in the window.", ge=0)] = 0
    done: Annotated[
        int, doc("Events of the window up to status.position (finished, or missed).", ge=0)
    ] = 0
    delivered: Annotated[int, doc("Events the subscriber took.", ge=0)] = 0
    filtered_out: Annotated[
        int, doc("Events the Trigger's filters or spec.filter left out.", ge=0)
    ] = 0
    dead_lettered: Annotated[int, doc("Events sent to the dead-letter sink.", ge=0)] = 0
    dropped: Annotated[int, doc("Events that failed without a dead-letter sink.", ge=0)] = 0
    missed: Annotated[
        int, doc("Events trimmed from the archive before the Replay reached them.", ge=0)
    ] = 0


class ReplayStatus(duck.Status):
    """The observed state of the Replay."""

    window: Annotated[ReplayWindow | None, doc("The events the window covers.")] = None
    position: Annotated[
        int | None,
        doc(
            "Every event of the window up to this seq is finished: where a Replay resumes "
            "after a restart of kawa.",
            ge=0,
        ),
    ] = None
    progress: Annotated[ReplayProgress | None, doc("What became of the events so far.")] = None
    start_time: Annotated[DateTime | None, doc("When the Replay started.")] = None
    completion_time: Annotated[DateTime | None, doc("When the Replay finished.")] = None


def parse_replay(obj: Mapping[str, Any]) -> Replay:
    """Validate a Replay dict and return it typed (every problem at its field path)."""
    return parse_object(Replay, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


def progress_cell(obj: Mapping[str, Any]) -> str:
    """``kubectl get``'s PROGRESS: events finished of those in the window (``-`` before the
    window is known)."""
    progress = (obj.get("status") or {}).get("progress")
    if not isinstance(progress, dict):
        return "-"
    return f"{progress.get('done', 0)}/{progress.get('records', 0)}"


def reason_cell(obj: Mapping[str, Any]) -> str:
    """``kubectl get``'s REASON: why it is not Ready, else how it stands (Running, Completed,
    Cancelled)."""
    status = obj.get("status") or {}
    ready = get_condition(status, "Ready")
    if ready is not None and ready.is_false:
        return ready.reason
    succeeded = get_condition(status, SUCCEEDED)
    return succeeded.reason if succeeded is not None else ""
