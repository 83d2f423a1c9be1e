"""What the CLI expects in kawa's answers: a List's items, an object's metadata, a Table.

kawa's API only answers with these shapes; anything else (a stranger, a proxy's error page,
a broken build) becomes a one-line CliError that says what was expected, instead of a
``KeyError`` deep in the printing code. Each function takes the answer and ``where`` (the
request, for the message). Called by :mod:`kawa.cli.resources`, :mod:`kawa.cli.describe`
and :mod:`kawa.cli.main`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kawa.cli.client import unexpected_answer


def dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...``, or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def metadata(obj: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """The object's metadata, with a string name."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        raise unexpected_answer(where, "expected an object with metadata.name")
    return meta


def items(found: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
    """A List's items, each an object with metadata.name."""
    listed = found.get("items")
    if not isinstance(listed, list):
        raise unexpected_answer(where, "expected a List with an items array")
    for i, item in enumerate(listed):
        if not isinstance(item, Mapping):
            raise unexpected_answer(where, f"items[{i}]: expected an object")
        metadata(item, f"{where} (items[{i}])")
    return listed


def table(found: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """A ``meta.k8s.io`` Table: named columns, rows of cells (each with its object)."""
    columns = found.get("columnDefinitions")
    rows = found.get("rows")
    if not isinstance(columns, list) or not isinstance(rows, list):
        raise unexpected_answer(where, "expected a Table with columnDefinitions and rows arrays")
    for i, column in enumerate(columns):
        if not isinstance(column, Mapping) or not isinstance(column.get("name"), str):
            detail = f"columnDefinitions[{i}]: expected an object with a name"
            raise unexpected_answer(where, detail)
        if not isinstance(column.get("priority", 0), int):
            raise unexpected_answer(where, f"columnDefinitions[{i}].priority: expected an integer")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or not isinstance(row.get("cells"), list):
            raise unexpected_answer(where, f"rows[{i}]: expected an object with a cells array")
        if not isinstance(row.get("object") or {}, Mapping) or not isinstance(
            dig(row, "object", "metadata") or {}, Mapping
        ):
            raise unexpected_answer(where, f"rows[{i}].object: expected an object with metadata")
    return found
