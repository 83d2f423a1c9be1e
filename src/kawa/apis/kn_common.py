"""Readers and helpers shared by the Knative kinds beyond Broker and Trigger.

The kinds of :mod:`kawa.apis.sources` and :mod:`kawa.apis.serving` share: the object header
check (``apiVersion``, ``kind``, ``metadata``), spec readers that append a
:class:`~kawa.errors.FieldError` for every problem (unknown fields, integers, lists),
the ``containers[]`` of a pod spec (a Revision's, a ContainerSource's template),
``ceOverrides`` and label selectors, the identity of an object, the sink status helpers of
sources; every kind with several versions uses the conversion *stash*: fields one version
cannot hold are kept in an annotation so that converting there and back is lossless.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from kawa.apis import duck, meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.core import containers as core_containers
from kawa.apis.kinds import PrinterColumn
from kawa.errors import FieldError, ValidationError

read_bool = meta.read_bool
read_int = meta.read_int


STASH_PREFIX: Final = "conversion.kawa.dev/"
"""Annotations ``conversion.kawa.dev/<version>`` keep, as JSON, what a version cannot hold."""

SINK_PROVIDED: Final = "SinkProvided"

_EXTENSION_NAME: Final = re.compile(r"[a-z0-9]+")
EXTENSION_NAME_MAX: Final = 20
SELECTOR_OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist")


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


def read_ce_overrides(value: Any, path: str, errors: list[FieldError]) -> dict[str, str] | None:
    """``ceOverrides``: ``{extensions: {name: value}}``; names lower-case alphanumeric, <= 20."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(value)}"))
        return None
    before = len(errors)
    unknown_fields(value, ("extensions",), path, errors)
    extensions = value.get("extensions")
    ext_path = meta.join(path, "extensions")
    errors.extend(meta.string_map_errors(extensions, ext_path))
    out: dict[str, str] = {}
    if isinstance(extensions, Mapping):
        for name, item in extensions.items():
            if not isinstance(name, str):
                continue
            if not _EXTENSION_NAME.fullmatch(name):
                errors.append(
                    FieldError(
                        f"{ext_path}[{name}]",
                        "invalid extension name: expected lower-case letters a-z and digits "
                        "0-9 only (CloudEvents attribute naming)",
                    )
                )
            elif len(name) > EXTENSION_NAME_MAX:
                errors.append(
                    FieldError(
                        f"{ext_path}[{name}]",
                        f"invalid extension name: at most {EXTENSION_NAME_MAX} characters",
                    )
                )
            elif isinstance(item, str):
                out[name] = item
    return None if len(errors) > before else out


@dataclass(frozen=True, slots=True)
class LabelSelectorRequirement:
    key: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A Kubernetes LabelSelector; the empty selector matches everything."""

    match_labels: dict[str, str]
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels.items():
            if labels.get(key) != value:
                return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "In" and not (present and labels[req.key] in req.values):
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
        return True


def read_label_selector(value: Any, path: str, errors: list[FieldError]) -> LabelSelector | None:
    """A LabelSelector: ``matchLabels`` and ``matchExpressions`` (In|NotIn|Exists|DoesNotExist)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(value)}"))
        return None
    before = len(errors)
    unknown_fields(value, ("matchLabels", "matchExpressions"), path, errors)
    labels_path = meta.join(path, "matchLabels")
    raw_labels = value.get("matchLabels")
    errors.extend(meta.string_map_errors(raw_labels, labels_path))
    labels: dict[str, str] = {}
    if isinstance(raw_labels, Mapping):
        for key, item in raw_labels.items():
            if isinstance(key, str) and isinstance(item, str):
                errors.extend(
                    FieldError(labels_path, f"invalid key {key!r}: {p}")
                    for p in meta.label_key_errors(key)
                )
                errors.extend(
                    FieldError(f"{labels_path}[{key}]", f"invalid value {item!r}: {p}")
                    for p in meta.label_value_errors(item)
                )
                labels[key] = item
    expressions: list[LabelSelectorRequirement] = []
    exp_path = meta.join(path, "matchExpressions")
    for i, raw in enumerate(read_list(value, "matchExpressions", exp_path, errors)):
        item_path = f"{exp_path}[{i}]"
        if not isinstance(raw, Mapping):
            errors.append(FieldError(item_path, f"expected a mapping, got {meta.type_name(raw)}"))
            continue
        unknown_fields(raw, ("key", "operator", "values"), item_path, errors)
        key = meta.read_str(raw, "key", f"{item_path}.key", errors, required=True)
        if key is not None:
            errors.extend(
                FieldError(f"{item_path}.key", f"invalid key {key!r}: {p}")
                for p in meta.label_key_errors(key)
            )
        operator = raw.get("operator")
        if operator not in SELECTOR_OPERATORS:
            errors.append(
                FieldError(
                    f"{item_path}.operator",
                    f"must be one of {', '.join(SELECTOR_OPERATORS)}, got {operator!r}",
                )
            )
        values = read_list(raw, "values", f"{item_path}.values", errors)
        if any(not isinstance(v, str) for v in values):
            errors.append(FieldError(f"{item_path}.values", "expected a list of strings"))
        elif operator in ("In", "NotIn") and not values:
            errors.append(
                FieldError(f"{item_path}.values", f"must be non-empty when operator is {operator}")
            )
        elif operator in ("Exists", "DoesNotExist") and values:
            errors.append(
                FieldError(f"{item_path}.values", f"must be empty when operator is {operator}")
            )
        if key is not None and isinstance(operator, str):
            expressions.append(LabelSelectorRequirement(key, operator, tuple(map(str, values))))
    if len(errors) > before:
        return None
    return LabelSelector(labels, tuple(expressions))


def read_sink(
    spec: Mapping[str, Any], path: str, errors: list[FieldError], *, namespace: str
) -> duck.Destination | None:
    """The required ``sink`` Destination of a source."""
    if spec.get("sink") is None:
        errors.append(FieldError(path, "required field is missing"))
        return None
    return duck.read_destination(spec["sink"], path, errors, namespace=namespace)


def default_sink(spec: Any, namespace: str) -> None:
    """Fill in ``sink.ref.namespace`` of a source spec dict in place."""
    if isinstance(spec, dict):
        duck.default_destination(spec.get("sink"), namespace)


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
