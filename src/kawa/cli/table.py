"""Printing a server-side Table (``meta.k8s.io/v1``) the way ``kubectl get`` does.

The API server computes the cells (:mod:`kawa.apiserver.tables`), so ``kawa get`` and
``kubectl get`` show the same columns. Here: upper-cased headers, empty cells for missing values,
a ``NAMESPACE`` column for ``-A``, ``priority > 0`` columns only when ``wide``, three spaces
between left-aligned columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(table: Mapping[str, Any], *, all_namespaces: bool, wide: bool = False) -> str:
    columns = [
        (i, c)
        for i, c in enumerate(table.get("columnDefinitions") or [])
        if wide or not c.get("priority")
    ]
    header = (["NAMESPACE"] if all_namespaces else []) + [c["name"].upper() for _, c in columns]
    lines = [header]
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        line = []
        if all_namespaces:
            meta = (row.get("object") or {}).get("metadata") or {}
            line.append(_text(meta.get("namespace")))
        line += [_text(cells[i] if i < len(cells) else None) for i, _ in columns]
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
