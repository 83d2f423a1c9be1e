"""What the ping scheduler remembers across restarts and leader changes: per source, the
last tick fired and the tick being sent.

One object per PingSource in the resource store, ``pingsourcestates.internal.kawa.dev``
(:data:`STATES`, kind ``PingSourceState``), in the source's namespace and named after its uid
(so a source deleted and created again under the same name starts afresh)::

    {"apiVersion": "internal.kawa.dev/v1", "kind": "PingSourceState",
     "metadata": {"namespace": "default", "name": "<uid>", ...}, "holder": "<token>",
     "source": "default/p", "schedule": "*/2 * * * * *", "timezone": "",
     "last": "2024-05-01T12:00:02+00:00", "pending": {"id": "...", "tick": "..."}}

``last`` is the last tick fired (or the moment the source was first scheduled); ``pending`` is
a tick claimed before its event was sent and not yet confirmed sent, with the event id it was
given. It lives in the store every node shares (SQLite on one node, the JetStream bucket with
``--nats``), so the node that leads after a failover re-sends the pending tick with its id and
catches up the ticks due meanwhile. Claimed by the timer that starts the source and fenced by
resourceVersion (:mod:`kawa.sources.adapter_state`): a timer whose save raises
:class:`~kawa.sources.adapter_state.StateTaken` stops. Older kawas kept it in
``<data_dir>/sources/ping/<uid>.json`` (same fields): moved into the store on first load.

Used by :mod:`kawa.sources.ping.scheduler`; the rule it implements is in
``docs/sources-ping.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from kawa.apis import sources as sources_api
from kawa.sources import adapter_state
from kawa.store.base import ResourceKey, ResourceStore

log = logging.getLogger(__name__)

STATES: Final = "pingsourcestates.internal.kawa.dev"
"""The store's resource of the PingSources' states (not a kind the API serves)."""
KIND: Final = adapter_state.StateKind(
    STATES, "PingSourceState", sources_api.PINGSOURCE.resource, "ping"
)


@dataclass(frozen=True, slots=True)
class Pending:
    """A tick whose event may have been sent: resent with the same ``id`` after a crash."""

    id: str
    tick: datetime


@dataclass(frozen=True, slots=True)
class TickState:
    source: str
    """``namespace/name``, for people reading the store."""
    schedule: str
    timezone: str
    last: datetime
    pending: Pending | None = None

    def claimed(self, pending: Pending) -> TickState:
        return replace(self, pending=pending)

    def fired(self, tick: datetime) -> TickState:
        return replace(self, last=max(self.last, tick), pending=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "last": self.last.isoformat(),
            "pending": None
            if self.pending is None
            else {"id": self.pending.id, "tick": self.pending.tick.isoformat()},
        }

    @classmethod
    def from_json(cls, data: Any) -> TickState:
        """Raises ``ValueError``/``KeyError``/``TypeError`` on a malformed record."""
        raw = data.get("pending")
        pending = None
        if raw is not None:
            pending = Pending(str(raw["id"]), _aware(raw["tick"]))
        return cls(
            source=str(data["source"]),
            schedule=str(data["schedule"]),
            timezone=str(data["timezone"]),
            last=_aware(data["last"]),
            pending=pending,
        )


def _aware(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return moment


class SourceTicks(adapter_state.ClaimedState):
    """The state of one source as its timer holds it (``state`` None until the timer set the
    first one)."""

    def __init__(
        self,
        store: ResourceStore,
        key: ResourceKey,
        state: TickState | None,
        resource_version: str | None,
    ) -> None:
        super().__init__(store, KIND, key, resource_version)
        self.state = state

    def fields(self) -> dict[str, Any]:
        return {} if self.state is None else self.state.to_json()

    async def record(self, state: TickState) -> TickState:
        """Save ``state`` (:meth:`~kawa.sources.adapter_state.ClaimedState.save`); returns it."""
        self.state = state
        await self.save()
        return state


class TickStore(adapter_state.StateStore[SourceTicks]):
    """The states of every PingSource in the resource store; the files of older kawas under
    ``<data_dir>/sources/ping/`` (only read, to move them into the store)."""

    kind = KIND

    def state(
        self, key: ResourceKey, data: dict[str, Any] | None, version: str | None
    ) -> SourceTicks:
        return SourceTicks(self._store, key, _tick_state(key, data), version)


def _tick_state(key: ResourceKey, data: dict[str, Any] | None) -> TickState | None:
    """The TickState of a stored object or an older kawa's file; None when there is none yet
    (a state claimed before its timer set one), or it is malformed (logged)."""
    if data is None or "last" not in data:
        return None
    try:
        return TickState.from_json(data)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("ignoring unreadable ping state of %s: %s", key.name, err)
        return None
