"""What the ping scheduler remembers across restarts: per source, the last tick fired.

One small JSON file per PingSource, ``<data_dir>/sources/ping/<uid>.json`` (the uid, so a
source deleted and created again under the same name starts afresh)::

    {"source": "default/p", "schedule": "*/2 * * * * *", "timezone": "",
     "last": "2024-05-01T12:00:02+00:00", "pending": {"id": "...", "tick": "..."}}

``last`` is the last tick fired (or the moment the source was first scheduled); ``pending`` is
a tick claimed before its event was sent and not yet confirmed sent, with the event id it was
given. Every write replaces the file atomically (write, fsync, rename), so a crash leaves the
old or the new state, never a torn one. The file I/O runs in a worker thread.

Used by :mod:`kawa.sources.ping.scheduler`; the rule it implements is in
``docs/sources-ping.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from kawa import files

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Pending:
    """A tick whose event may have been sent: resent with the same ``id`` after a crash."""

    id: str
    tick: datetime


@dataclass(frozen=True, slots=True)
class TickState:
    source: str
    """``namespace/name``, for people reading the directory."""
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


class TickStore:
    """The per-source state files under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._writes: dict[str, asyncio.Future[None]] = {}
        """The last write per uid: it finishes even when its caller is cancelled (the thread
        cannot be stopped), so a delete waits for it rather than being undone by it."""

    def _path(self, uid: str) -> Path:
        return self.directory / f"{uid}.json"

    async def load(self, uid: str) -> TickState | None:
        """The saved state, or ``None`` (none saved, or unreadable: logged, then ignored)."""
        return await asyncio.to_thread(self._load, uid)

    def _load(self, uid: str) -> TickState | None:
        path = self._path(uid)
        try:
            return TickState.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            log.warning("ignoring unreadable ping state %s: %s", path, err)
            return None

    async def save(self, uid: str, state: TickState) -> None:
        previous = self._writes.get(uid)
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        write = asyncio.ensure_future(asyncio.to_thread(self._save, uid, state))
        self._writes[uid] = write
        write.add_done_callback(lambda f: self._forget(uid, f))
        await asyncio.shield(write)

    async def flush(self) -> None:
        """Wait for the writes still under way (a write outlives its cancelled caller): the
        scheduler calls it as it stops, so no write of a stopped kawa lands after it."""
        while pending := [write for write in self._writes.values() if not write.done()]:
            await asyncio.wait(pending)

    def _forget(self, uid: str, write: asyncio.Future[None]) -> None:
        if not write.cancelled():
            write.exception()  # retrieved here; the caller (if still waiting) gets it too
        if self._writes.get(uid) is write:
            del self._writes[uid]

    def _save(self, uid: str, state: TickState) -> None:
        files.make_dir(self.directory)
        path = self._path(uid)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8", opener=files.private) as f:
            json.dump(state.to_json(), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(self.directory, os.O_RDONLY)  # make the rename itself durable
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def delete(self, uid: str) -> None:
        """Remove the state of ``uid``, after any write still under way."""
        pending = self._writes.get(uid)
        if pending is not None:
            await asyncio.wait([pending])
        await asyncio.to_thread(self._delete, uid)

    def _delete(self, uid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(uid).unlink()

    async def uids(self) -> set[str]:
        """The uids that have a state file."""
        return await asyncio.to_thread(self._uids)

    def _uids(self) -> set[str]:
        if not self.directory.is_dir():
            return set()
        return {p.stem for p in self.directory.glob("*.json")}
