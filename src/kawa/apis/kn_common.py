"""Readers and helpers shared by the Knative kinds beyond Broker and Trigger.

The kinds of :mod:`kawa.apis.messaging`, :mod:`kawa.apis.flows`, :mod:`kawa.apis.serving`
and :class:`EventType` share: the object header check (``apiVersion``, ``kind``,
``metadata``), spec readers that append a :class:`~kawa.errors.FieldError` for every problem
(unknown fields, integers, lists), the ``containers[]`` of a pod spec (a Revision's) and the
identity of an object. The sources (:mod:`kawa.apis.sources`, :mod:`kawa.sources`) use the
sink status helpers; kinds with several versions use the conversion *stash*: fields one
version cannot hold are kept in an annotation so that converting there and back is lossless.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from kawa.apis import meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.core import containers as core_containers
from kawa.apis.kinds import PrinterColumn
from kawa.errors import FieldError, ValidationError

read_bool = meta.read_bool
read_int = meta.read_int


STASH_PREFIX: Final = "conversion.kawa.dev/"
"""Annotations ``conversion.kawa.dev/<version>`` keep, as JSON, what a version cannot hold."""

SINK_PROVIDED: Final = "SinkProvided"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who an object is: namespace, name, uid and generation."""

    namespace: str
    name: str
    uid: str
    generation: int

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


def identity(obj: Mapping[str, Any]) -> Identity:
    metadata = meta.metadata_of(obj)
    generation = metadata.get("generation")
    return Identity(
        namespace=meta.namespace_of(obj),
        name=str(metadata.get("name") or ""),
        uid=str(metadata.get("uid") or ""),
        generation=generation if isinstance(generation, int) else 0,
    )


def check_header(
    obj: Mapping[str, Any], api_versions: Iterable[str], kind: str, errors: list[FieldError]
) -> None:
    """``apiVersion`` one of ``api_versions``, ``kind`` and valid ``metadata``."""
    allowed = tuple(api_versions)
    api_version = obj.get("apiVersion")
    if api_version not in allowed:
        errors.append(
            FieldError("apiVersion", f"expected {' or '.join(allowed)}, got {api_version!r}")
        )
    if obj.get("kind") != kind:
        errors.append(FieldError("kind", f"expected {kind}, got {obj.get('kind')!r}"))
    errors.extend(meta.validate_metadata(obj.get("metadata")))


def raise_if_errors(errors: list[FieldError], kind: str, obj: Mapping[str, Any]) -> None:
    if errors:
        raise ValidationError(errors, subject=meta.subject_of(kind, obj))


def read_spec(
    obj: Mapping[str, Any], fields: Iterable[str], errors: list[FieldError], *, required: bool
) -> Mapping[str, Any]:
    """``obj["spec"]`` (empty when absent or wrong, recorded), its unknown fields recorded."""
    spec = obj.get("spec")
    if spec is None:
        if required:
            errors.append(FieldError("spec", "required field is missing"))
        return {}
    if not isinstance(spec, Mapping):
        errors.append(FieldError("spec", f"expected a mapping, got {meta.type_name(spec)}"))
        return {}
    unknown_fields(spec, fields, "spec", errors)
    return spec


def unknown_fields(
    value: Mapping[str, Any], allowed: Iterable[str], path: str, errors: list[FieldError]
) -> None:
    names = tuple(allowed)
    errors.extend(
        FieldError(meta.join(path, str(key)), f"unknown field; expected one of {', '.join(names)}")
        for key in value
        if key not in names
    )


def read_list(
    parent: Mapping[str, Any],
    key: str,
    path: str,
    errors: list[FieldError],
    *,
    required: bool = False,
) -> list[Any]:
    """``parent[key]`` as a list (empty when absent); a required one must be non-empty."""
    value = parent.get(key)
    if value is None or value == []:
        if required:
            errors.append(FieldError(path, "required field is missing (a non-empty list)"))
        return []
    if not isinstance(value, list):
        errors.append(FieldError(path, f"expected a list, got {meta.type_name(value)}"))
        return []
    return value


def read_containers(
    pod: Mapping[str, Any], path: str, errors: list[FieldError], *, single: bool
) -> list[Mapping[str, Any]]:
    """``containers[]`` of the pod spec at ``path`` (``....containers``): non-empty, names unique.

    Each container is checked with the Pod's rules (:func:`kawa.apis.core.containers.
    read_container`: env, ports, probes, volume mounts); ``single`` is a Revision's: exactly
    one container, with Knative's rules for it (one port, no host port).
    """
    containers = read_list(pod, "containers", path, errors, required=True)
    if single and len(containers) > 1:
        errors.append(FieldError(path, f"expected exactly one container, got {len(containers)}"))
        return []
    volumes = core_containers.read_volumes(
        pod, f"{path.removesuffix('.containers')}.volumes", errors
    )
    seen: set[str] = set()
    out: list[Mapping[str, Any]] = []
    for i, container in enumerate(containers):
        item = f"{path}[{i}]"
        if not isinstance(container, Mapping):
            errors.append(FieldError(item, f"expected a mapping, got {meta.type_name(container)}"))
            continue
        core_containers.read_container(container, item, errors, volumes, knative=single)
        name = container.get("name")
        if isinstance(name, str) and name:
            if name in seen:
                errors.append(FieldError(f"{item}.name", f"duplicate container name {name!r}"))
            seen.add(name)
        out.append(container)
    return out


# -- conversion ------------------------------------------------------------------------------


def stash(obj: meta.Object, version: str, data: Mapping[str, Any]) -> None:
    """Keep ``data`` (what ``version`` cannot hold) in the object's annotations, as JSON."""
    if not data:
        return
    metadata = obj.setdefault("metadata", {})
    if isinstance(metadata, dict):
        annotations = metadata.get("annotations")
        if not isinstance(annotations, dict):
            annotations = metadata["annotations"] = {}
        annotations[STASH_PREFIX + version] = orjson.dumps(
            data, option=orjson.OPT_SORT_KEYS
        ).decode()


def unstash(obj: meta.Object, version: str) -> dict[str, Any]:
    """Remove and return what :func:`stash` kept for ``version`` (``{}`` when nothing)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("annotations"), dict):
        return {}
    annotations = metadata["annotations"]
    raw = annotations.pop(STASH_PREFIX + version, None)
    if not annotations:
        del metadata["annotations"]
    if not isinstance(raw, str):
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def convert_unsupported(kind: str, api_version: str, served: Iterable[str]) -> ValidationError:
    return ValidationError.single(
        "apiVersion", f"{kind} cannot be converted to {api_version!r}; served: {', '.join(served)}"
    )


def deep_copy(obj: Mapping[str, Any]) -> meta.Object:
    return copy.deepcopy(dict(obj))


def via_storage(
    convert: Callable[[Mapping[str, Any], str], meta.Object],
    storage: str,
    function: Callable[[Mapping[str, Any]], meta.Object],
) -> Callable[[Mapping[str, Any]], meta.Object]:
    """``function`` (a defaulter) applied in the storage version, the result converted back."""

    def apply(obj: Mapping[str, Any]) -> meta.Object:
        original = obj.get("apiVersion")
        if original == storage or not isinstance(original, str):
            return function(obj)
        return convert(function(convert(obj, storage)), original)

    return apply


# -- status of sources -----------------------------------------------------------------------


def mark_sink(
    conditions: ConditionSet,
    status: dict[str, Any],
    uri: str | None,
    *,
    clock: Clock,
    condition: str = SINK_PROVIDED,
) -> None:
    """Record the resolved sink in ``status.sinkUri`` (``None``: not resolvable, False)."""
    if uri:
        status["sinkUri"] = uri
        conditions.mark_true(status, condition, clock=clock)
    else:
        status.pop("sinkUri", None)
        conditions.mark_false(
            status, condition, "SinkEmpty", "Sink has resolved to empty.", clock=clock
        )


def mark_no_sink(
    conditions: ConditionSet,
    status: dict[str, Any],
    reason: str,
    message: str,
    *,
    clock: Clock,
    condition: str = SINK_PROVIDED,
) -> None:
    status.pop("sinkUri", None)
    conditions.mark_false(status, condition, reason, message, clock=clock)


# -- printer columns -------------------------------------------------------------------------

_READY_PATH: Final = '.status.conditions[?(@.type=="Ready")]'
AGE: Final = PrinterColumn("Age", "date", ".metadata.creationTimestamp")
READY: Final = PrinterColumn("Ready", "string", f"{_READY_PATH}.status")
REASON: Final = PrinterColumn("Reason", "string", f"{_READY_PATH}.reason")
URL: Final = PrinterColumn("URL", "string", ".status.address.url")
SINK: Final = PrinterColumn("Sink", "string", ".status.sinkUri")
