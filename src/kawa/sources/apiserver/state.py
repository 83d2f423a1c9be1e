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
(at-least-once). Claims, fenced saves, the move of an older kawa's file
(``<data_dir>/sources/apiserver/<uid>.json``) into the store and the sweep of the states of
deleted sources are :mod:`kawa.sources.adapter_state`'s: an adapter whose save raises
:class:`StateTaken` stops (another process runs the source now; a later start reloads the
state). Used by :mod:`kawa.sources.apiserver.adapter`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from kawa.apis import sources as sources_api
from kawa.apis.label_selector import LabelSelector
from kawa.sources import adapter_state
from kawa.sources.adapter_state import API_VERSION, StateTaken
from kawa.sources.apiserver.watch import KindInfo
from kawa.store.base import ResourceKey, ResourceStore

__all__ = [
    "API_VERSION",
    "KIND",
    "STATES",
    "SourceState",
    "StateStore",
    "StateTaken",
    "StreamState",
    "stream_id",
    "streams_of",
]

STATES: Final = "apiserversourcestates.internal.kawa.dev"
"""The store's resource of the adapters' states (not a kind the API serves)."""
KIND: Final = adapter_state.StateKind(
    STATES, "ApiServerSourceState", sources_api.APISERVERSOURCE.resource, "apiserver"
)


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


class SourceState(adapter_state.ClaimedState):
    """The streams of one source, saved to its object in the store."""

    def __init__(
        self,
        store: ResourceStore,
        key: ResourceKey,
        streams: dict[str, StreamState],
        resource_version: str | None,
    ) -> None:
        """``resource_version``: the stored object's, None when there is none yet. The
        streams of a source save concurrently: one write at a time, each from the
        resourceVersion the previous one made."""
        super().__init__(store, KIND, key, resource_version)
        self.streams = streams

    def keep_only(self, names: set[str]) -> None:
        """Forget the streams the source no longer has."""
        for name in set(self.streams) - names:
            del self.streams[name]

    def fields(self) -> dict[str, Any]:
        return {"streams": {name: _stream_body(s) for name, s in self.streams.items()}}


class StateStore(adapter_state.StateStore[SourceState]):
    """The states of every source in the resource store; the files of older kawas under
    ``<data_dir>/sources/apiserver/`` (only read, to move them into the store)."""

    kind = KIND

    def state(
        self, key: ResourceKey, data: dict[str, Any] | None, version: str | None
    ) -> SourceState:
        return SourceState(self._store, key, streams_of((data or {}).get("streams")), version)

    async def read(self, namespace: str, uid: str) -> dict[str, StreamState] | None:
        """The streams stored for the source (None when it has no state in the store)."""
        obj = await self.get(namespace, uid)
        return None if obj is None else streams_of(obj.get("streams"))
