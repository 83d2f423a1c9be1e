"""``kawa describe KIND NAME``: an object and its Events, laid out like ``kubectl describe``.

Custom kinds get kubectl's generic layout: name, namespace, labels and annotations, then every
other field with its key split into words (``subscriberUri`` -> ``Subscriber Uri``), nested
by indentation, then the Events whose ``involvedObject`` is this object.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from kawa.apis.kinds import ResourceKind
from kawa.cli import answers
from kawa.cli.client import ApiClient, resource_path

_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SKIP_META = frozenset({"name", "namespace", "labels", "annotations", "managedFields"})


def _title(key: str) -> str:
    words = _WORD.sub(" ", key)
    return words[:1].upper() + words[1:]


def _pairs(mapping: Any) -> list[str]:
    if not mapping:
        return ["<none>"]
    if not isinstance(mapping, Mapping):
        return [str(mapping)]
    return [f"{k}={str(v).strip()}" for k, v in sorted(mapping.items())]


def _field(lines: list[str], key: str, value: Any, indent: int) -> None:
    pad = "  " * indent
    if isinstance(value, Mapping):
        lines.append(f"{pad}{_title(key)}:")
        for k, v in value.items():
            _field(lines, k, v, indent + 1)
    elif isinstance(value, list):
        lines.append(f"{pad}{_title(key)}:")
        for item in value:
            if isinstance(item, Mapping):
                for k, v in item.items():
                    _field(lines, k, v, indent + 1)
            else:
                lines.append(f"{pad}  {item}")
    else:
        text = "" if value is None else str(value)
        lines.append(f"{pad}{_title(key)}:  {text}".rstrip())


def describe(client: ApiClient, rk: ResourceKind, namespace: str, name: str) -> str:
    ns = namespace if rk.namespaced else None
    path = resource_path(rk, ns, name)
    obj = client.checked("GET", path)
    meta = answers.metadata(obj, client.where("GET", path))
    lines = [f"Name:         {meta.get('name', '')}"]
    if rk.namespaced:
        lines.append(f"Namespace:    {meta.get('namespace', '')}")
    for title, mapping in (
        ("Labels", meta.get("labels")),
        ("Annotations", meta.get("annotations")),
    ):
        pairs = _pairs(mapping)
        lines.append(f"{title + ':':<14}{pairs[0]}")
        lines.extend(f"{'':14}{p}" for p in pairs[1:])
    lines.append(f"API Version:  {obj.get('apiVersion', '')}")
    lines.append(f"Kind:         {obj.get('kind', '')}")
    rest = {k: v for k, v in meta.items() if k not in _SKIP_META}
    if rest:
        _field(lines, "metadata", rest, 0)
    for key, value in obj.items():
        if key not in ("apiVersion", "kind", "metadata"):
            _field(lines, key, value, 0)
    selector = ",".join(
        f"involvedObject.{k}={v}"
        for k, v in (("name", meta.get("name")), ("uid", meta.get("uid")))
        if v
    )
    events_ns = meta.get("namespace") or "default"
    query = urllib.parse.urlencode({"fieldSelector": selector})
    events_path = f"/api/v1/namespaces/{events_ns}/events?{query}"
    events = client.checked("GET", events_path)
    items = answers.items(events, client.where("GET", events_path))
    if not items:
        lines.append("Events:       <none>")
    else:
        lines.append("Events:")
        rows = [["Type", "Reason", "Count", "From", "Message"], ["----"] * 5]
        for e in sorted(items, key=lambda e: str(e.get("lastTimestamp") or "")):
            rows.append(
                [
                    str(e.get("type", "")),
                    str(e.get("reason", "")),
                    str(e.get("count", 1)),
                    str(answers.dig(e, "source", "component") or ""),
                    str(e.get("message", "")),
                ]
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines.extend(
            "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        )
    return "\n".join(lines)
