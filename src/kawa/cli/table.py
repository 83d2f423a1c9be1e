"""Table output for ``kawa get``: the same columns ``kubectl get`` shows for each kind.

Columns come from the kind's printer columns (:class:`kawa.apis.registry.PrinterColumn`),
whose JSON paths use the small subset CRDs use (``.a.b``, ``[?(@.type=="Ready")]``).
"""

from __future__ import annotations

import re
import time
from calendar import timegm
from collections.abc import Sequence
from typing import Any

from kawa.apis.registry import ResourceKind

_FILTER = re.compile(r'^\[\?\(@\.(\w+)=="([^"]*)"\)\]')
_FIELD = re.compile(r"^\.(\w+)")


def json_path(obj: Any, path: str) -> Any:
    """Evaluate a printer-column JSON path; ``None`` where anything is missing."""
    current = obj
    rest = path
    while rest:
        match = _FIELD.match(rest)
        if match:
            current = current.get(match.group(1)) if isinstance(current, dict) else None
            rest = rest[match.end() :]
            continue
        match = _FILTER.match(rest)
        if match:
            key, value = match.groups()
            items = current if isinstance(current, list) else []
            current = next(
                (i for i in items if isinstance(i, dict) and str(i.get(key)) == value), None
            )
            rest = rest[match.end() :]
            continue
        return None
    return current


def age(timestamp: str | None, now: float | None = None) -> str:
    """kubectl's short age: ``42s``, ``5m``, ``3h``, ``2d``."""
    if not timestamp:
        return "<unknown>"
    try:
        then = timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return "<invalid>"
    seconds = max(0, int((time.time() if now is None else now) - then))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def rows(rk: ResourceKind, items: Sequence[dict[str, Any]], *, all_namespaces: bool) -> str:
    header = (["NAMESPACE"] if all_namespaces else []) + ["NAME"]
    header += [c.name.upper() for c in rk.printer_columns]
    table = [header]
    for item in items:
        meta = item.get("metadata", {})
        row = [meta.get("namespace", "")] if all_namespaces else []
        row.append(meta.get("name", ""))
        for column in rk.printer_columns:
            value = json_path(item, column.json_path)
            row.append(
                age(value) if column.type == "date" else ("" if value is None else str(value))
            )
        table.append(row)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return "\n".join(
        "   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table
    )
