"""Where each ApiServerSource stopped, kept in the resource store so any kawa resumes it.

One object per source, ``apiserversourcestates.internal.kawa.dev`` (:data:`STATES`), in the
source's namespace and named after its uid, holding per stream (one kind in one namespace
with one selector and owner filter: see :func:`stream_id`) the kind and namespace, the last
resourceVersion the adapter handled and the objects it has sent events for (key
``namespace/name`` -> their resourceVersion). It lives in the shared store (SQLite on one
node, the JetStream bucket with ``--nats``), so the node that leads after a failover (ADR
0044) resumes each watch exactly where the old leader stopped: no ``add`` sent again, no
change made meanwhile missed. It is internal: not a kind of the scheme, so the API server
neither serves nor lists it, and the garbage collector and the namespace controller never
touch it.

The adapter saves after every change it handled (one store write per change, none when
nothing changed), so after a crash at most the changes being sent are sent again
(at-least-once). A save names the resourceVersion it read (optimistic concurrency), and each
load writes the state at once naming its new holder: when another process loaded, wrote or
removed the state since, the save raises :class:`StateTaken` and the adapter stops (that
process runs the source now; a later start reloads the state). A source
recreated under the same name has a new uid, hence a fresh start.

Older kawas kept the state in ``<data_dir>/sources/apiserver/<uid>.json``: a source whose
state is not in the store yet starts from that file, which is then removed
(:meth:`StateStore.load`). :meth:`StateStore.sweep` removes the states (and old files) of
sources deleted while no adapter ran. Used by :mod:`kawa.sources.apiserver.adapter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from kawa.apis import sources as sources_api
from kawa.apis.label_selector import LabelSelector
from kawa.errors import AlreadyExistsError, ConflictError, NotFoundError
from kawa.sources.apiserver.watch import KindInfo
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

STATES: Final = "apiserversourcestates.internal.kawa.dev"
"""The store's resource of the adapters' states (not a kind the API serves)."""
API_VERSION: Final = "internal.kawa.dev/v1"
KIND: Final = "ApiServerSourceState"
_SOURCES: Final = sources_api.APISERVERSOURCE.resource


STOP_GRACE: Final = 5.0
"""Seconds a save cancelled by a stop goes on (see :meth:`SourceState.save`)."""


class StateTaken(Exception):
    """Another process wrote or removed the source's state since this one read it."""


def stream_id(
    api_version: str,
    kind: str,
    namespace: str,
    selector: LabelSelector | None,
    owner: tuple[str, str] | None,
) -> str:
    """A stable name for one stream; a changed selector or owner filter is a new stream."""
    filters = orjson.dumps(
        [
            None
            if selector is None
            else [
                sorted(selector.match_labels.items()),
                [[r.key, r.operator, list(r.values)] for r in selector.match_expressions],
            ],
            owner,
        ]
    )
    digest = hashlib.sha256(filters).hexdigest()[:12]
    return f"{api_version}/{kind}@{namespace}#{digest}"


@dataclass(slots=True)
class StreamState:
    """The resourceVersion reached and the objects known (sent and not deleted since); the
    kind (``info``) and ``namespace`` watched, so that a stream whose namespace was deleted
    can still be drained (states written before they were kept have ``info`` None)."""

    resource_version: str
    known: dict[str, str] = field(default_factory=dict)
    info: KindInfo | None = None
    namespace: str = ""


def _info_of(item: dict[str, Any]) -> KindInfo | None:
    fields = [item.get(k) for k in ("apiVersion", "kind", "plural", "group")]
    if not all(isinstance(f, str) for f in fields) or not isinstance(item.get("namespaced"), bool):
        return None
    api_version, kind, plural, group = (str(f) for f in fields)
    return KindInfo(api_version, kind, plural, group, bool(item["namespaced"]))


def _stream_body(s: StreamState) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceVersion": s.resource_version, "known": s.known}
    if s.info is not None:
        body |= {
            "apiVersion": s.info.api_version,
            "kind": s.info.kind,
            "plural": s.info.plural,
            "group": s.info.group,
            "namespaced": s.info.namespaced,
            "namespace": s.namespace,
        }
    return body


def streams_of(raw: Any) -> dict[str, StreamState]:
    """The streams of a stored ``streams`` mapping (what is malformed is left out)."""
    streams: dict[str, StreamState] = {}
    if not isinstance(raw, dict):
        return streams
    for name, item in raw.items():
        if isinstance(item, dict) and isinstance(item.get("resourceVersion"), str):
            raw_known = item.get("known")
            known = raw_known if isinstance(raw_known, dict) else {}
            streams[str(name)] = StreamState(
                item["resourceVersion"],
                {str(k): str(v) for k, v in known.items()},
                _info_of(item),
                str(item.get("namespace") or ""),
            )
    return streams


class SourceState:
    """The streams of one source, saved to its object in the store."""

    def __init__(
        self,
        store: ResourceStore,
        key: ResourceKey,
        streams: dict[str, StreamState],
        resource_version: str | None,
    ) -> None:
        """``resource_version``: the stored object's, None when there is none yet."""
        self.key = key
        self.streams = streams
        self._store = store
        self._version = resource_version
        self._saved = self._body() if resource_version is not None else None
        self._holder = uuid.uuid4().hex
        """Who saves: a new one for each load, written by :meth:`claim`."""
        self._saving = asyncio.Lock()
        """The streams of a source save concurrently: one write at a time, each from the
        resourceVersion the previous one made."""

    def keep_only(self, names: set[str]) -> None:
        """Forget the streams the source no longer has."""
        for name in set(self.streams) - names:
            del self.streams[name]

    def _body(self) -> bytes:
        return orjson.dumps({name: _stream_body(s) for name, s in self.streams.items()})

    async def claim(self) -> None:
        """Write the state now, naming this loader as its holder (a create when the store
        has none): from then on, a save of whoever loaded it before raises
        :class:`StateTaken` (a leader that lost its lease stops at its next save)."""
        async with self._saving:
            await self._write(force=True)

    async def save(self) -> None:
        """Write the streams (nothing when they did not change since the last save or
        load); :class:`StateTaken` when another process wrote or removed them since.

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
        body = self._body()
        if body == self._saved and not force:
            return
        obj: Obj = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.key.name, "namespace": self.key.namespace},
            "holder": self._holder,
            "streams": orjson.loads(body),
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


class StateStore:
    """The states of every source in the resource store; the files of older kawas under
    ``<data_dir>/sources/apiserver/`` (only read, to move them into the store)."""

    def __init__(self, store: ResourceStore, data_dir: Path) -> None:
        self._store = store
        self.legacy = data_dir / "sources" / "apiserver"

    @staticmethod
    def key(namespace: str, uid: str) -> ResourceKey:
        return ResourceKey(STATES, namespace, uid)

    async def read(self, namespace: str, uid: str) -> dict[str, StreamState] | None:
        """The streams stored for the source (None when it has no state in the store)."""
        try:
            obj = await self._store.get(self.key(namespace, uid))
        except NotFoundError:
            return None
        return streams_of(obj.get("streams"))

    async def load(self, namespace: str, uid: str) -> SourceState:
        """The state of source ``uid`` (in ``namespace``), claimed (:meth:`SourceState.claim`):
        from the store, or from an older kawa's file (saved into the store, then the file is
        removed), or a fresh one."""
        key = self.key(namespace, uid)
        path = self.legacy / f"{uid}.json"
        try:
            obj = await self._store.get(key)
        except NotFoundError:
            streams, version = _read_file(path), None
        else:
            streams = streams_of(obj.get("streams"))
            version = str(obj["metadata"]["resourceVersion"])
        state = SourceState(self._store, key, streams, version)
        await state.claim()
        if version is None and streams:
            log.info("apiserversource state of %s moved from %s into the store", uid, path)
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
        sources = await self._store.list(_SOURCES)
        live = {str(s["metadata"].get("uid", "")) for s in sources.items}
        removed = 0
        for obj in (await self._store.list(STATES)).items:
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


def _retrieve(write: asyncio.Future[None]) -> None:
    """Take the outcome of a save nobody awaits any more (its adapter stopped) off the task, so
    that asyncio does not report it as never retrieved."""
    if not write.cancelled():
        write.exception()


def _read_file(path: Path) -> dict[str, StreamState]:
    """The streams of an older kawa's state file ({} when there is none)."""
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as err:
        log.warning("ignoring unreadable source state %s: %s", path, err)
        return {}
    return streams_of(raw.get("streams") if isinstance(raw, dict) else None)
