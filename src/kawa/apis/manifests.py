"""Reading YAML manifests (``kubectl apply -f`` files) into resource dicts.

:func:`load_manifests` reads a multi-document YAML text: empty documents are skipped,
``kind: List`` documents are expanded into their ``items``, and every resulting object must be
a mapping with ``apiVersion``, ``kind`` and ``metadata.name``. All problems are reported at
once in one :class:`~kawa.errors.ValidationError` whose subject is the file name; field paths
start with the document index (``[1].metadata.name``, ``[0].items[2].kind``) and messages name
the line the document starts on. A YAML syntax error reports its line and column.

YAML is read with PyYAML's safe loader, except that timestamps stay strings (as Kubernetes'
YAML-to-JSON conversion keeps them), so every object is plain JSON data. Called by the CLI
(``kawa apply``) and by tests; kinds are validated later by :mod:`kawa.apis.registry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from kawa.apis import meta
from kawa.errors import FieldError, ValidationError


class _Loader(yaml.SafeLoader):
    """The safe loader, with ``2020-01-01T00:00:00Z`` kept as a string (JSON has no dates)."""


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def load_manifests(text: str, source_name: str) -> list[meta.Object]:
    """Every object in the YAML ``text`` (from ``source_name``, used in error messages)."""
    objects: list[meta.Object] = []
    errors: list[FieldError] = []
    loader = _Loader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node() said there is one
                break
            line = node.start_mark.line + 1
            document = loader.construct_document(node)
            problems = meta.json_value_errors(document, f"[{index}]")
            if problems:  # NaN, 65-bit integers, sets...: no JSON to send
                errors.extend(
                    FieldError(e.path, f"{e.message} (document at line {line})") for e in problems
                )
            elif document is not None:
                _collect(document, f"[{index}]", line, objects, errors)
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(p for p in (exc.problem, exc.context) if p) or str(exc)
        raise ValidationError.single(
            "", f"YAML syntax error at {where}{problem}", subject=source_name
        ) from None
    except yaml.YAMLError as exc:
        raise ValidationError.single("", f"YAML error: {exc}", subject=source_name) from None
    except RecursionError:
        raise ValidationError.single("", "nested too deeply", subject=source_name) from None
    finally:
        loader.dispose()
    if errors:
        raise ValidationError(errors, subject=source_name)
    return objects


def _collect(
    document: Any, path: str, line: int, objects: list[meta.Object], errors: list[FieldError]
) -> None:
    where = f"(document at line {line})"
    if not isinstance(document, Mapping):
        errors.append(
            FieldError(
                path,
                f"expected a mapping with apiVersion, kind and metadata, "
                f"got {meta.type_name(document)} {where}",
            )
        )
        return
    if document.get("kind") == "List" and "items" in document:
        items = document["items"]
        if not isinstance(items, list):
            errors.append(
                FieldError(f"{path}.items", f"expected a list, got {meta.type_name(items)} {where}")
            )
            return
        for number, item in enumerate(items):
            _collect(item, f"{path}.items[{number}]", line, objects, errors)
        return
    before = len(errors)
    for key in ("apiVersion", "kind"):
        value = document.get(key)
        if not isinstance(value, str) or not value:
            message = "required field is missing" if not value else "expected a string"
            errors.append(FieldError(f"{path}.{key}", f"{message} {where}"))
    metadata = document.get("metadata")
    if not isinstance(metadata, Mapping):
        message = "required field is missing" if metadata is None else "expected a mapping"
        errors.append(FieldError(f"{path}.metadata", f"{message} {where}"))
    else:
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            message = "required field is missing" if not name else "expected a string"
            errors.append(FieldError(f"{path}.metadata.name", f"{message} {where}"))
    if len(errors) == before:
        objects.append(dict(document))
