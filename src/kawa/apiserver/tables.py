"""Table output (``meta.k8s.io/v1`` Table): what ``kubectl get`` and ``kawa get`` print.

A client that sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` gets rows of
cells computed here from the kind's printer columns (a JSON path, or a computed value for
built-in kinds), with ``Name`` first; dates are rendered as kubectl's short ages (``42s``,
``5m``, ``3h``, ``2d``) because kubectl prints a Table's cells as they come. Each row carries
the object's metadata (``PartialObjectMetadata``) for ``-A`` and ``--show-labels``.
"""

from __future__ import annotations

import re
import time
from calendar import timegm
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from kawa.apis.kinds import PrinterColumn, ResourceKind

TABLE_MEDIA: Final = "as=Table"

_FILTER: Final = re.compile(r'^\[\?\(@\.(\w+)==["\']([^"\']*)["\']\)\]')
_FIELD: Final = re.compile(r"^\.(\w+)")
_INDEX: Final = re.compile(r"^\[(\d+|\*)\]")


def wants_table(accept: str) -> bool:
    """Whether an ``Accept`` header asks for a Table."""
    return TABLE_MEDIA in accept.replace(" ", "")


def json_path(obj: Any, path: str) -> Any:
    """Evaluate a printer-column JSON path (``.a.b``, ``[0]``, ``[?(@.type=="Ready")]``);
    ``None`` where anything is missing."""
    current = obj
    rest = path.strip()
    while rest:
        if match := _FIELD.match(rest):
            current = current.get(match.group(1)) if isinstance(current, Mapping) else None
        elif match := _FILTER.match(rest):
            key, value = match.groups()
            items = current if isinstance(current, list) else []
            current = next(
                (i for i in items if isinstance(i, Mapping) and str(i.get(key)) == value), None
            )
        elif match := _INDEX.match(rest):
            index = match.group(1)
            if not isinstance(current, list) or not current:
                current = None
            elif index == "*":
                current = current[0]
            else:
                current = current[int(index)] if int(index) < len(current) else None
        else:
            return None
        rest = rest[match.end() :]
        if current is None:
            return None
    return current


def age(timestamp: Any, now: float | None = None) -> str:
    """kubectl's short age of an RFC 3339 timestamp: ``42s``, ``5m``, ``3h``, ``2d``."""
    if not isinstance(timestamp, str) or not timestamp:
        return "<unknown>"
    try:
        then = timegm(time.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return "<invalid>"
    seconds = max(0, int((time.time() if now is None else now) - then))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def cell(column: PrinterColumn, obj: Mapping[str, Any], now: float | None = None) -> Any:
    value = column.value(obj) if column.value is not None else json_path(obj, column.json_path)
    if column.type == "date":
        return age(value, now)
    if value is None:
        return None  # kubectl prints <none>
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float | str):
        return value
    return str(value)


def _names_itself(rk: ResourceKind) -> bool:
    """Whether the kind places its own ``Name`` column (an Event's comes last, wide only)."""
    return any(c.name == "Name" for c in rk.printer_columns)


def _column_definitions(rk: ResourceKind) -> list[dict[str, Any]]:
    columns = []
    if not _names_itself(rk):
        columns.append(
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "description": "Name must be unique within a namespace.",
                "priority": 0,
            }
        )
    for column in rk.printer_columns:
        columns.append(
            {
                "name": column.name,
                "type": "string" if column.type == "date" else column.type,
                "format": "name" if column.name == "Name" else "",
                "description": column.description or column.name,
                "priority": column.priority,
            }
        )
    return columns


def row(
    rk: ResourceKind,
    obj: Mapping[str, Any],
    now: float | None = None,
    *,
    full: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """One row. Its ``object`` is the object's metadata, or with ``full`` (the client asked
    ``includeObject=Object``, as ``kubectl get --sort-by`` does) the whole object."""
    meta = obj.get("metadata", {})
    cells = [cell(c, obj, now) for c in rk.printer_columns]
    if not _names_itself(rk):
        cells.insert(0, meta.get("name", ""))
    shown: Any = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    return {"cells": cells, "object": shown if full is None else full(obj)}


def table(
    rk: ResourceKind,
    objects: Iterable[Mapping[str, Any]],
    resource_version: str = "",
    *,
    now: float | None = None,
    continue_token: str = "",
    full: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": _column_definitions(rk),
        "rows": [row(rk, obj, now, full=full) for obj in objects],
    }
