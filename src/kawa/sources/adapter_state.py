"""A source adapter's state in the resource store, claimed by the process that runs the source.

Sources that resume where they stopped (ApiServerSource watches, PingSource ticks) keep their
state in the shared resource store (SQLite on one node, the JetStream bucket with ``--nats``),
so that whichever node leads after a failover (ADR 0044) goes on from there: one object per
source, in the source's namespace and named after its uid (a source recreated under the same
name starts afresh), of an internal resource ``<plural>.internal.kawa.dev``
(:class:`StateKind`). It is not a kind of the scheme: the API server neither serves nor lists
it, and the garbage collector and the namespace controller never touch it.

- :class:`ClaimedState` is one source's state as the process running it holds it.
  :meth:`~ClaimedState.claim` writes it at once naming a new holder token (a create when the
  store has none); each :meth:`~ClaimedState.save` names the resourceVersion the previous write
  made (optimistic concurrency), so once another process claimed, wrote or removed the state,
  the save raises :class:`StateTaken` and the adapter stops: a leader that lost its lease
  without knowing it sends at most what it had in flight. A save cancelled by a stop goes on
  for up to :data:`STOP_GRACE` seconds, so whoever runs the source next reads what was sent.
- :class:`StateStore` loads a source's state and claims it: from the store, or from the file
  an older kawa kept in its data dir (``<data_dir>/sources/<dir>/<uid>.json``: moved into the
  store, then removed); removes it when the source goes; and sweeps the states of sources
  deleted while no adapter ran (:meth:`StateStore.sweep`, on each leader's start).

What the object holds besides ``apiVersion``, ``kind``, ``metadata`` and ``holder`` is the
subclasses' (:meth:`ClaimedState.fields`, :meth:`StateStore.state`):
:mod:`kawa.sources.apiserver.state` and :mod:`kawa.sources.ping.state`. ADR 0050.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, Generic, TypeVar

import orjson

from kawa.errors import AlreadyExistsError, ConflictError, NotFoundError
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

API_VERSION: Final = "internal.kawa.dev/v1"
STOP_GRACE: Final = 5.0
"""Seconds a save cancelled by a stop goes on (see :meth:`ClaimedState.save`)."""


class StateTaken(Exception):
    """Another process claimed, wrote or removed the source's state since this one read it."""


@dataclass(frozen=True, slots=True)
class StateKind:
    """The internal resource of one source type's states."""

    resource: str
    """The store's resource, ``<plural>.internal.kawa.dev``."""
    kind: str
    sources: str
    """The store's resource of the sources themselves (the sweep lists them)."""
    legacy: str
    """Where older kawas kept the states, one file per uid: ``<data_dir>/sources/<legacy>/``."""

    def key(self, namespace: str, uid: str) -> ResourceKey:
        return ResourceKey(self.resource, namespace, uid)


class ClaimedState:
    """One source's state, written to its object in the store by this process as long as no
    other one claimed it since; subclasses say what it holds (:meth:`fields`)."""

    def __init__(
        self, store: ResourceStore, kind: StateKind, key: ResourceKey, resource_version: str | None
    ) -> None:
        """``resource_version``: the stored object's, None when there is none yet."""
        self.key = key
        self._store = store
        self._kind = kind
        self._version = resource_version
        self._saved: bytes | None = None
        self._holder = uuid.uuid4().hex
        """Who saves: a new one for each load, written by :meth:`claim`."""
        self._saving = asyncio.Lock()
        """One write at a time, each from the resourceVersion the previous one made."""

    def fields(self) -> dict[str, Any]:
        """What the object holds besides its ``apiVersion``, ``kind``, ``metadata`` and
        ``holder`` (JSON values)."""
        raise NotImplementedError

    async def claim(self) -> None:
        """Write the state now, naming this loader as its holder (a create when the store
        has none): from then on, a save of whoever loaded it before raises
        :class:`StateTaken` (a leader that lost its lease stops at its next save)."""
        async with self._saving:
            await self._write(force=True)

    async def save(self) -> None:
        """Write the state (nothing when it did not change since the last write);
        :class:`StateTaken` when another process claimed, wrote or removed it since.

        Cancelled meanwhile (the adapter stops), the write goes on for up to
        :data:`STOP_GRACE` seconds before the cancellation is honoured, so that whoever runs
        the source next reads what was sent."""
        write = asyncio.ensure_future(self._save())
        write.add_done_callback(_retrieve)
        try:
            await asyncio.shield(write)
        except asyncio.CancelledError:
            await asyncio.wait([write], timeout=STOP_GRACE)
            raise

    async def _save(self) -> None:
        async with self._saving:
            await self._write()

    async def _write(self, *, force: bool = False) -> None:
        body = orjson.dumps(self.fields())
        if body == self._saved and not force:
            return
        obj: Obj = {
            "apiVersion": API_VERSION,
            "kind": self._kind.kind,
            "metadata": {"name": self.key.name, "namespace": self.key.namespace},
            "holder": self._holder,
            **orjson.loads(body),  # a copy: the store never holds the caller's values
        }
        try:
            if self._version is None:
                stored = await self._store.create(self.key, obj)
            else:
                obj["metadata"]["resourceVersion"] = self._version
                stored = await self._store.update(self.key, obj)
        except (AlreadyExistsError, ConflictError, NotFoundError) as err:
            raise StateTaken(f"{self.key}: {err}") from None
        self._version = str(stored["metadata"]["resourceVersion"])
        self._saved = body


S = TypeVar("S", bound=ClaimedState)


class StateStore(Generic[S]):
    """The states of one source type (:attr:`kind`) in the resource store, and the files
    older kawas kept under ``<data_dir>/sources/<kind.legacy>/`` (only read, to move them
    into the store). Subclasses build their state from what is stored (:meth:`state`)."""

    kind: ClassVar[StateKind]

    def __init__(self, store: ResourceStore, data_dir: Path) -> None:
        self._store = store
        self.legacy = data_dir / "sources" / self.kind.legacy

    @classmethod
    def key(cls, namespace: str, uid: str) -> ResourceKey:
        return cls.kind.key(namespace, uid)

    def state(self, key: ResourceKey, data: dict[str, Any] | None, version: str | None) -> S:
        """The state at ``key`` from its stored object (``version`` its resourceVersion) or
        from an older kawa's file (``version`` None); ``data`` None: a fresh one."""
        raise NotImplementedError

    async def get(self, namespace: str, uid: str) -> Obj | None:
        """The stored object of the source's state (None when the store has none)."""
        try:
            return await self._store.get(self.key(namespace, uid))
        except NotFoundError:
            return None

    async def load(self, namespace: str, uid: str) -> S:
        """The state of source ``uid`` (in ``namespace``), claimed (:meth:`ClaimedState.claim`):
        from the store, or from an older kawa's file (saved into the store, then the file is
        removed), or a fresh one."""
        key = self.key(namespace, uid)
        path = self.legacy / f"{uid}.json"
        obj = await self.get(namespace, uid)
        if obj is None:
            data, version = _read_file(path), None
        else:
            data, version = obj, str(obj["metadata"]["resourceVersion"])
        state = self.state(key, data, version)
        await state.claim()
        if version is None and data is not None:
            log.info("%s of %s moved from %s into the store", self.kind.kind, uid, path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return state

    async def remove(self, namespace: str, uid: str) -> None:
        """The source is gone: its state goes (and an older kawa's file of it)."""
        with contextlib.suppress(NotFoundError):
            await self._store.delete(self.key(namespace, uid))
        with contextlib.suppress(FileNotFoundError):
            (self.legacy / f"{uid}.json").unlink()

    async def sweep(self) -> int:
        """Remove the states of sources that no longer exist (deleted while no adapter ran:
        nobody forgot them); returns how many went. A state written after the sources were
        listed is kept: its source may be newer than the list."""
        sources = await self._store.list(self.kind.sources)
        live = {str(s["metadata"].get("uid", "")) for s in sources.items}
        removed = 0
        for obj in (await self._store.list(self.kind.resource)).items:
            meta = obj["metadata"]
            if meta["name"] in live or int(meta["resourceVersion"]) > sources.resource_version:
                continue
            with contextlib.suppress(NotFoundError):
                await self._store.delete(self.key(meta.get("namespace", ""), meta["name"]))
                removed += 1
        with contextlib.suppress(FileNotFoundError):
            for path in self.legacy.glob("*.json"):
                if path.stem not in live:
                    path.unlink(missing_ok=True)
        return removed

    async def sweep_logged(self) -> None:
        """:meth:`sweep` as a source type starts (each leader's start), logged; a failure is
        logged, not raised: the next leader, or the next start, tries again."""
        try:
            swept = await self.sweep()
        except Exception as err:
            log.warning("cannot remove the states of deleted sources (%s): %s", self.kind.kind, err)
        else:
            if swept:
                log.info("removed %d %ss of deleted sources", swept, self.kind.kind)


def _retrieve(write: asyncio.Future[None]) -> None:
    """Take the outcome of a save nobody awaits any more (its adapter stopped) off the task, so
    that asyncio does not report it as never retrieved."""
    if not write.cancelled():
        write.exception()


def _read_file(path: Path) -> dict[str, Any] | None:
    """The contents of an older kawa's state file (None when there is none, or it is not a
    JSON object: logged)."""
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as err:
        log.warning("ignoring unreadable source state %s: %s", path, err)
        return None
    if not isinstance(raw, dict):
        log.warning("ignoring unreadable source state %s: not a JSON object", path)
        return None
    return raw
