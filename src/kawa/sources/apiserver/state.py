"""Where each ApiServerSource stopped: persisted so a restarted kawa resumes its watches.

One JSON file per source (``<data_dir>/sources/apiserver/<source uid>.json``), holding per
stream (one kind in one namespace with one selector and owner filter: see
:func:`stream_id`) the kind and namespace, the last resourceVersion the adapter handled and
the objects it has sent events for (key ``namespace/name`` -> their resourceVersion). The
file is replaced atomically after every change the adapter handled, so after a crash at most
the changes being sent are sent again (at-least-once). A source recreated under the same
name has a new uid, hence a fresh start. Used by :mod:`kawa.sources.apiserver.adapter`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kawa import files
from kawa.apis.label_selector import LabelSelector
from kawa.sources.apiserver.watch import KindInfo

log = logging.getLogger(__name__)


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
    can still be drained (files written before they were kept have ``info`` None)."""

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


class SourceState:
    """The streams of one source, backed by one JSON file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.streams: dict[str, StreamState] = {}
        try:
            raw = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError) as err:
            log.warning("ignoring unreadable source state %s: %s", path, err)
            return
        for name, item in (raw.get("streams") or {}).items():
            if isinstance(item, dict) and isinstance(item.get("resourceVersion"), str):
                raw_known = item.get("known")
                known = raw_known if isinstance(raw_known, dict) else {}
                self.streams[name] = StreamState(
                    item["resourceVersion"],
                    {str(k): str(v) for k, v in known.items()},
                    _info_of(item),
                    str(item.get("namespace") or ""),
                )

    def keep_only(self, names: set[str]) -> None:
        """Forget the streams the source no longer has."""
        for name in set(self.streams) - names:
            del self.streams[name]

    def save(self) -> None:
        body = {"streams": {name: _stream_body(s) for name, s in self.streams.items()}}
        tmp = self._path.with_suffix(".tmp")
        files.write_private(tmp, orjson.dumps(body))
        os.replace(tmp, self._path)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


class StateDirectory:
    """``<data_dir>/sources/apiserver/``: one :class:`SourceState` file per source uid."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "sources" / "apiserver"

    def of(self, uid: str) -> SourceState:
        return SourceState(self.path / f"{uid}.json")

    def remove(self, uid: str) -> None:
        self.of(uid).remove()
