"""The ApiServerSource adapter: list-then-watch per stream, one CloudEvent per change.

A source has one stream per resource and namespace it watches (``resources[]`` x the
namespaces selected). Each stream lists, then watches from the list's resourceVersion, and
sends an event per change of an object its label ``selector`` and ``owner`` filter select,
through the shared :class:`~kawa.sources.sink.SinkSender` (events of one stream are sent one
by one, in order; an event the sink refuses after the sender's retries is dropped and
reported, as Knative's adapter logs and drops it).

Where each stream stands (the resourceVersion reached, the objects it has announced) is kept
in the resource store (:mod:`.state`), saved after each change handled, so:

- a new source lists and sends ``add`` for every object selected (Knative's informer-based
  adapter does the same at its first start);
- a restarted kawa, a source stopped and started again (e.g. while its permissions were
  revoked), or the node that leads after the leader died, watches from the stored
  resourceVersion: nothing is sent twice, nothing is missed;
- when that resourceVersion is too old (410 Gone) it lists again and compares with what it
  had announced: ``add`` for new objects, ``update`` for changed ones, ``delete`` for the
  ones gone (their data is then only ``apiVersion``, ``kind`` and ``metadata.name``/
  ``namespace``: the last state was not kept).

An object whose labels change so that the selector no longer selects it gets a ``delete``
(and an ``add`` when it is selected again), as a Kubernetes watch with a label selector does.

A namespace that leaves the source's selection is no longer watched. When it left because it
was **deleted** (the cluster says it does not exist), its objects are being deleted with it,
and a Kubernetes watch would have delivered their DELETED events: so the streams of that
namespace are *drained* (:meth:`SourceAdapter._drain`): watched on from the resourceVersion
they reached, each announced object gets its ``delete`` as its DELETED arrives, and the
stream is forgotten once nothing it announced remains (after :data:`DRAIN_TIMEOUT`, the rest
get a ``delete`` holding only their name). Drains are kept in the state, so they go on
after a restart. A namespace merely unlabelled sends nothing (Knative stops watching it).

An adapter whose save finds that another process loaded or wrote the state since it did
(:class:`~.state.StateTaken`: this node is no longer the leader, and does not know it yet)
stops; the next reconcile of its source starts it again from the stored state.
Run by :class:`Adapters`, which the reconciler (:mod:`.reconciler`) tells what to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from kawa.apis.label_selector import LabelSelector
from kawa.apis.sources.apiserversource import Mode
from kawa.delivery.sender import DeliveryResult, Identity
from kawa.errors import ForbiddenError, GoneError
from kawa.sources import sink
from kawa.sources.apiserver import events, remote
from kawa.sources.apiserver.state import (
    SourceState,
    StateStore,
    StateTaken,
    StreamState,
    stream_id,
)
from kawa.sources.apiserver.watch import Cluster, KindInfo, Obj, ObjectWatcher, WatchChange
from kawa.tasks import cancel_and_wait

log = logging.getLogger(__name__)

MAX_BACKOFF: Final = 30.0
DRAIN_TIMEOUT: Final = 60.0
"""Seconds a deleted namespace's stream waits for the DELETED events of its objects."""


@dataclass(frozen=True, slots=True)
class Stream:
    """One kind in one namespace ("" for cluster-scoped kinds), with the source's filters."""

    info: KindInfo
    namespace: str
    selector: LabelSelector | None
    owner: tuple[str, str] | None

    @property
    def id(self) -> str:
        return stream_id(
            self.info.api_version, self.info.kind, self.namespace, self.selector, self.owner
        )


@dataclass(frozen=True, slots=True)
class AdapterConfig:
    """Everything one running adapter depends on; a different config restarts it."""

    uid: str
    mode: Mode
    sink_url: str
    ce_overrides: dict[str, str] | None
    cluster: Cluster
    streams: tuple[Stream, ...]
    sink_audience: str | None = None
    """The sink's OIDC audience (authentication-oidc)."""
    sink_ca_certs: str | None = None
    """The certificates the sink's https address verifies against (its ``CACerts``)."""
    identity: Identity | None = None
    """The ServiceAccount its events are sent as (authentication-oidc)."""


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name', '')}"


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def _gone(info: KindInfo, key: str) -> Obj:
    """What a ``delete`` carries for an object whose last state was not kept."""
    namespace, _, name = key.partition("/")
    return {
        "apiVersion": info.api_version,
        "kind": info.kind,
        "metadata": {"name": name, **({"namespace": namespace} if namespace else {})},
    }


Report = Callable[[DeliveryResult | ForbiddenError], None]


class SourceAdapter:
    """Runs the streams of one source until cancelled."""

    def __init__(
        self,
        name: str,
        config: AdapterConfig,
        sender: sink.SinkSender,
        state: SourceState,
        report: Report,
    ) -> None:
        self.name = name
        self._config = config
        self._sender = sender
        self._state = state
        self._report = report

    async def run(self) -> None:
        wanted = {s.id for s in self._config.streams}
        drains, undecided = await self._left_behind(wanted)
        self._state.keep_only(wanted | drains | undecided)
        await self._state.save()
        async with asyncio.TaskGroup() as tg:
            for stream in self._config.streams:
                tg.create_task(self._run_stream(stream), name=f"{self.name}:{stream.id}")
            for sid in sorted(drains):
                tg.create_task(self._drain(sid), name=f"{self.name}:{sid} (drain)")

    async def _left_behind(self, wanted: set[str]) -> tuple[set[str], set[str]]:
        """The streams the source no longer has whose namespace was deleted (to drain), and
        those for which the cluster could not say (kept: the next start asks again). The
        others (namespace unlabelled, resource or filter changed) are simply dropped."""
        drains: set[str] = set()
        undecided: set[str] = set()
        exists: dict[str, bool] = {}
        for sid, state in self._state.streams.items():
            if sid in wanted or state.info is None or not state.namespace or not state.known:
                continue
            if state.namespace not in exists:
                try:
                    exists[state.namespace] = await self._config.cluster.namespace_exists(
                        state.namespace
                    )
                except Exception as err:
                    log.warning("%s: namespace %s: %s", self.name, state.namespace, err)
                    undecided.add(sid)
                    continue
            if not exists[state.namespace]:
                drains.add(sid)
        return drains, undecided

    async def _drain(self, sid: str) -> None:
        """The namespace of stream ``sid`` was deleted: watch on from where the stream was and
        send ``delete`` (with the object's last state) for each announced object as its
        DELETED arrives; after :data:`DRAIN_TIMEOUT`, or when the history is gone, the objects
        still known get a ``delete`` with only their name. Then the stream is forgotten."""
        state = self._state.streams[sid]
        assert state.info is not None
        stream = Stream(state.info, state.namespace, None, None)
        watcher = self._config.cluster.watcher(state.info, state.namespace)
        failures = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_TIMEOUT):
                while state.known:
                    try:
                        await self._drain_watch(stream, state, watcher)
                    except GoneError:
                        listing = await watcher.list()
                        present = {_key(obj) for obj in listing.items}
                        for key in sorted(set(state.known) - present):
                            await self._send(stream, "delete", _gone(stream.info, key))
                            del state.known[key]
                        state.resource_version = listing.resource_version
                        await self._state.save()
                    except StateTaken:
                        raise
                    except Exception as err:
                        log.warning("%s: %s: drain failed: %s", self.name, sid, err)
                        failures += 1
                        await asyncio.sleep(min(MAX_BACKOFF, 0.2 * 2 ** min(failures, 10)))
        for key in sorted(state.known):
            await self._send(stream, "delete", _gone(stream.info, key))
        del self._state.streams[sid]
        await self._state.save()

    async def _drain_watch(
        self, stream: Stream, state: StreamState, watcher: ObjectWatcher
    ) -> None:
        """Handle one watch of a draining stream until nothing is known any more."""
        changes = watcher.watch(state.resource_version)
        try:
            async for change in changes:
                key = _key(change.object)
                if change.type == "DELETED" and key in state.known:
                    # sent before it is forgotten: a drain cut short re-sends it at the end
                    await self._send(stream, "delete", change.object)
                    del state.known[key]
                state.resource_version = change.resource_version or state.resource_version
                await self._state.save()
                if not state.known:
                    return
        finally:
            close = getattr(changes, "aclose", None)
            if close is not None:
                await close()

    async def _run_stream(self, stream: Stream) -> None:
        watcher = self._config.cluster.watcher(stream.info, stream.namespace)
        relist = False
        failures = 0
        while True:
            try:
                state = self._state.streams.get(stream.id)
                if state is not None:  # files of older kawas do not say what they watch
                    state.info, state.namespace = stream.info, stream.namespace
                if state is None or relist:
                    state = await self._relist(stream, watcher, state)
                    relist = False
                async for change in watcher.watch(state.resource_version):
                    await self._apply(stream, state, change)
                    failures = 0
                continue  # the watch ended (a server timeout): watch again from where it was
            except GoneError:
                log.info("%s: %s: resourceVersion too old, listing again", self.name, stream.id)
                relist = True
                continue
            except StateTaken:
                raise
            except ForbiddenError as err:
                log.warning("%s: %s: forbidden: %s", self.name, stream.id, err)
                self._report(err)
            except Exception as err:  # network errors, server errors: retry with backoff
                failure = remote.describe_failure(self._config.cluster.url, err)
                log.warning("%s: %s: watch failed: %s", self.name, stream.id, failure)
            failures += 1
            await asyncio.sleep(min(MAX_BACKOFF, 0.2 * 2 ** min(failures, 10)))

    async def _relist(
        self, stream: Stream, watcher: ObjectWatcher, before: StreamState | None
    ) -> StreamState:
        """List, then announce the difference with what was known (everything, the first
        time)."""
        listing = await watcher.list()
        known = dict(before.known) if before is not None else {}
        state = StreamState(listing.resource_version, {}, stream.info, stream.namespace)
        for obj in listing.items:
            if not events.selected(obj, stream.selector, stream.owner):
                continue
            key = _key(obj)
            state.known[key] = _rv(obj)
            if key not in known:
                await self._send(stream, "add", obj)
            elif known[key] != _rv(obj):
                await self._send(stream, "update", obj)
        for key in set(known) - set(state.known):
            await self._send(stream, "delete", _gone(stream.info, key))
        self._state.streams[stream.id] = state
        await self._state.save()
        return state

    async def _apply(self, stream: Stream, state: StreamState, change: WatchChange) -> None:
        obj = change.object
        # each change is sent before ``known`` shows it: a save made meanwhile by another
        # stream of the source must not record a change whose event was not sent
        if change.type != "BOOKMARK":
            key = _key(obj)
            was = key in state.known
            if change.type == "DELETED":
                if was:
                    await self._send(stream, "delete", obj)
                    del state.known[key]
            elif events.selected(obj, stream.selector, stream.owner):
                await self._send(stream, "update" if was else "add", obj)
                state.known[key] = _rv(obj)
            elif was:
                await self._send(stream, "delete", obj)
                del state.known[key]
        state.resource_version = change.resource_version or state.resource_version
        await self._state.save()

    async def _send(self, stream: Stream, change: events.Change, obj: Obj) -> None:
        config = self._config
        event = events.make_event(
            source=config.cluster.url,
            mode=config.mode,
            change=change,
            obj=obj,
            plural=stream.info.plural,
        )
        event = sink.apply_overrides(event, config.ce_overrides)
        self._report(
            await self._sender.send(
                event,
                config.sink_url,
                identity=config.identity,
                audience=config.sink_audience,
                ca_certs=config.sink_ca_certs,
            )
        )


OnChange = Callable[[str], None]


def _namespace(key: str) -> str:
    """The namespace of a source's key (``namespace/name``)."""
    return key.partition("/")[0]


class Adapters:
    """The running adapters, one per ApiServerSource (``namespace/name``) whose reconciler
    asked for it; also remembers each source's last delivery for its status."""

    name = "apiserversource-adapters"

    def __init__(self, sender: sink.SinkSender, states: StateStore) -> None:
        self._sender = sender
        self._states = states
        self._running: dict[str, tuple[AdapterConfig, asyncio.Task[None]]] = {}
        self._uids: dict[str, str] = {}
        self._deliveries: dict[str, DeliveryResult] = {}
        self.on_change: OnChange = lambda key: None
        """Called with a source's key when what its status shows changed (set by the
        reconciler's controller to requeue it)."""

    def last_delivery(self, key: str) -> DeliveryResult | None:
        return self._deliveries.get(key)

    def config(self, key: str) -> AdapterConfig | None:
        found = self._running.get(key)
        return None if found is None else found[0]

    async def ensure(self, key: str, config: AdapterConfig) -> None:
        """Run the adapter of ``key`` with ``config`` (restarted if its config changed, or if
        it stopped: its state is loaded again)."""
        found = self._running.get(key)
        if found is not None and found[0] == config and not found[1].done():
            return
        await self.stop(key)
        self._uids[key] = config.uid
        name = f"apiserversource {key}"
        task = asyncio.create_task(self._guard(name, key, config), name=name)
        self._running[key] = (config, task)

    async def _guard(self, name: str, key: str, config: AdapterConfig) -> None:
        """Load the source's state, then run its adapter until cancelled; an adapter that
        fails is logged and stays stopped until the source is reconciled again."""
        try:
            state = await self._states.load(_namespace(key), config.uid)
            adapter = SourceAdapter(
                name,
                config,
                self._sender,
                state,
                lambda outcome: self._on_outcome(key, outcome),
            )
            await adapter.run()
        except* StateTaken as group:
            log.warning(
                "%s stopped: another kawa process runs it now (%s)", name, group.exceptions[0]
            )
        except* Exception:
            log.exception("%s stopped", name)

    async def stop(self, key: str) -> None:
        """Stop the adapter of ``key`` (its state is kept: it resumes when started again)."""
        found = self._running.pop(key, None)
        if found is not None:
            await cancel_and_wait(found[1])

    async def forget(self, key: str) -> None:
        """The source is gone: stop its adapter and remove its state."""
        await self.stop(key)
        self._deliveries.pop(key, None)
        uid = self._uids.pop(key, None)
        if uid is not None:
            await self._states.remove(_namespace(key), uid)

    async def remember(self, key: str, uid: str) -> None:
        """The uid of the source called ``key`` (a recreated source has a new one: the old
        one's adapter and state go)."""
        old = self._uids.get(key)
        if old is not None and old != uid:
            await self.stop(key)
            await self._states.remove(_namespace(key), old)
            self._deliveries.pop(key, None)
        self._uids[key] = uid

    def _on_outcome(self, key: str, outcome: DeliveryResult | ForbiddenError) -> None:
        if isinstance(outcome, ForbiddenError):
            self.on_change(key)
            return
        before = self._deliveries.get(key)
        self._deliveries[key] = outcome
        if before is None or before.ok != outcome.ok:
            self.on_change(key)

    async def run(self) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            for key in list(self._running):
                await self.stop(key)
