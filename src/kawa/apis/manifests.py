"""Reading YAML manifests (``kubectl apply -f`` files) into resource dicts.

:func:`load_manifests` reads a multi-document YAML text: empty documents are skipped,
``kind: List`` documents are expanded into their ``items``, and every resulting object must be
a mapping with ``apiVersion``, ``kind`` and ``metadata.name``. All problems are reported at
once in one :class:`~kawa.errors.ValidationError` whose subject is the file name; field paths
start with the document index (``[1].metadata.name``, ``[0].items[2].kind``) and messages name
the line the document starts on. A YAML syntax error reports its line and column.

YAML is read with :class:`YamlLoader`: PyYAML's safe loader, except that timestamps stay
strings (as Kubernetes' YAML-to-JSON conversion keeps them), so every object is plain JSON
data, and that objects and lists may nest at most :data:`kawa.nesting.MAX_NESTING` levels
(checked as PyYAML's recursive composer descends, before it can hit Python's recursion limit).
Called by the CLI (``kawa apply``) and by tests; kinds are validated later by
:mod:`kawa.apis.registry`. The API server reads YAML request bodies with the same loader
(:mod:`kawa.apiserver.requests`, which also refuses aliases).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import yaml

from kawa import nesting
from kawa.apis import meta
from kawa.errors import FieldError, ValidationError

_TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
_OPENINGS: Final = (yaml.SequenceStartEvent, yaml.MappingStartEvent)


class NestedTooDeeplyError(yaml.MarkedYAMLError):
    """A YAML document whose objects and lists nest deeper than :data:`kawa.nesting.MAX_NESTING`;
    ``path`` is where (``spec.filters[0].not``), ``problem_mark`` the line and column."""

    def __init__(self, path: str, mark: yaml.Mark) -> None:
        super().__init__(problem=nesting.TOO_DEEP, problem_mark=mark)
        self.path = path


class YamlLoader(yaml.SafeLoader):
    """The safe loader, with ``2020-01-01T00:00:00Z`` kept as a string (JSON has no dates), and
    nesting limited (:class:`NestedTooDeeplyError`). ``aliases = False`` in a subclass refuses
    anchors and aliases (a ``ComposerError``)."""

    aliases: ClassVar[bool] = True

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._open: list[Any] = []  # the index (key node or position) of each node being composed

    def compose_node(self, parent: Any, index: Any) -> Any:
        # One override checks both, to keep PyYAML's recursion to three frames a level.
        if not self.aliases and self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not accepted in API bodies", event.start_mark
            )
        if len(self._open) > nesting.MAX_NESTING and self.check_event(*_OPENINGS):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise NestedTooDeeplyError(self._path(index), event.start_mark)
        self._open.append(index)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.pop()

    def _path(self, index: Any) -> str:
        path = ""
        for key in [*self._open[1:], index]:
            if isinstance(key, int):
                path += f"[{key}]"
            else:
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                path = meta.join(path, str(name))
        return path


# Timestamps stay strings (JSON has no dates): not resolved implicitly, and read as the text
# they are when a document tags them explicitly.
YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_constructor(
    _TIMESTAMP,
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def load_manifests(text: str, source_name: str) -> list[meta.Object]:
    """Every object in the YAML ``text`` (from ``source_name``, used in error messages)."""
    objects: list[meta.Object] = []
    errors: list[FieldError] = []
    loader = YamlLoader(text)
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
    except NestedTooDeeplyError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ValidationError.single(
            meta.join(f"[{index}]", exc.path),
            f"{nesting.TOO_DEEP} (at {where})",
            subject=source_name,
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(p for p in (exc.problem, exc.context) if p) or str(exc)
        raise ValidationError.single(
            "", f"YAML syntax error at {where}{problem}", subject=source_name
        ) from None
    except yaml.YAMLError as exc:
        raise ValidationError.single("", f"YAML error: {exc}", subject=source_name) from None
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
