"""What Deployments and ReplicaSets share: the label and annotation names of Kubernetes'
deployment controller, the rule that a selector must select its own template, the condition
shape of apps/v1 statuses, the pod-template hash, the selector as ``kubectl`` prints it, and
the ``kubectl get`` cells both kinds print (``CONTAINERS``, ``IMAGES``, ``SELECTOR``).

Pure; used by :mod:`.deployment`, :mod:`.replicaset` and the controllers of
:mod:`kawa.controllers.apps`.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

import orjson

from kawa.apis.label_selector import LabelSelector, format_selector
from kawa.apis.model.base import Model, doc
from kawa.apis.model.types import DateTime
from kawa.errors import FieldError

POD_TEMPLATE_HASH: Final = "pod-template-hash"
"""The label the Deployment controller adds to its ReplicaSets' selector, template and Pods."""
REVISION: Final = "deployment.kubernetes.io/revision"
"""The revision of a Deployment, and of each of its ReplicaSets (what ``rollout undo`` names)."""
DESIRED_REPLICAS: Final = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS: Final = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE: Final = "kubernetes.io/change-cause"
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
NOT_COPIED: Final = frozenset(
    {
        LAST_APPLIED,
        REVISION,
        "deployment.kubernetes.io/revision-history",
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
"""Annotations of a Deployment that are not copied to its ReplicaSets (as Kubernetes)."""

_SAFE_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"
"""Characters of generated names and hashes: no vowels (no words), no look-alikes."""


class WorkloadCondition(Model):
    """A condition of a Deployment or a ReplicaSet."""

    type: Annotated[str, doc("The condition's type (Available, Progressing, ReplicaFailure).")] = ""
    status: Annotated[str, doc("True, False or Unknown.")] = ""
    last_update_time: Annotated[DateTime | None, doc("When the condition was last updated.")] = None
    last_transition_time: Annotated[DateTime | None, doc("When the status last changed.")] = None
    reason: Annotated[str, doc("A CamelCase reason for the status.")] = ""
    message: Annotated[str, doc("A human-readable explanation.")] = ""


def selector_errors(spec: Mapping[str, Any], kind: str) -> Iterable[FieldError]:
    """The selector is not empty and selects the template's labels (read from the raw spec,
    types unchecked: type problems are the declaration's to report)."""
    selector = spec.get("selector")
    if not isinstance(selector, Mapping):
        return
    labels_ = selector.get("matchLabels")
    expressions = selector.get("matchExpressions")
    if not labels_ and not expressions:
        yield FieldError(
            "selector", f"Invalid value: {_go_map(selector)}: empty selector is invalid for {kind}"
        )
        return
    try:
        parsed = LabelSelector.model_validate(selector)
    except ValueError:
        return  # reported by the type check
    template = spec.get("template")
    metadata = template.get("metadata") if isinstance(template, Mapping) else None
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    labels = labels if isinstance(labels, Mapping) else {}
    if not all(isinstance(v, str) for v in labels.values()):
        return
    if not parsed.matches(labels):
        yield FieldError(
            "template.metadata.labels",
            f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
        )


def _go_map(value: Mapping[str, Any]) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """A short, stable name for a pod template (the ``pod-template-hash`` label): the same
    template (ignoring its own hash label) always hashes the same; ``collision_count`` makes
    another name when a ReplicaSet of another template already holds this one."""
    plain = without_hash(template)
    raw = orjson.dumps(plain, option=orjson.OPT_SORT_KEYS) + b"#" + str(collision_count).encode()
    number = int.from_bytes(hashlib.sha256(raw).digest()[:8], "big")
    out = []
    for _ in range(10):
        number, digit = divmod(number, len(_SAFE_ALPHABET))
        out.append(_SAFE_ALPHABET[digit])
    return "".join(out)


def without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    """``template`` as two templates are compared: without the ``pod-template-hash`` label,
    and without empty values (``resources: {}``, ``""``, ``null``), which Kubernetes' typed
    comparison does not see either (``kubectl rollout undo`` writes a template back with
    the empty fields of Go's structs)."""
    plain: dict[str, Any] = _pruned(copy.deepcopy(dict(template)))
    metadata = plain.get("metadata")
    if isinstance(metadata, dict):
        labels = metadata.get("labels")
        if isinstance(labels, dict):
            labels.pop(POD_TEMPLATE_HASH, None)
            if not labels:
                metadata.pop("labels")
        if not metadata:
            plain.pop("metadata")
    return plain


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def random_suffix(token: bytes, length: int = 5) -> str:
    """``length`` characters of the safe alphabet from random bytes (a Pod's name suffix)."""
    number = int.from_bytes(token, "big")
    out = []
    for _ in range(length):
        number, digit = divmod(number, len(_SAFE_ALPHABET))
        out.append(_SAFE_ALPHABET[digit])
    return "".join(out)


# -- kubectl get cells -------------------------------------------------------------------------


def _containers(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = obj.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    pod_spec = template.get("spec") if isinstance(template, Mapping) else None
    items = pod_spec.get("containers") if isinstance(pod_spec, Mapping) else None
    return [c for c in items if isinstance(c, Mapping)] if isinstance(items, list) else []


def containers_cell(obj: Mapping[str, Any]) -> str:
    return ",".join(str(c.get("name", "")) for c in _containers(obj))


def images_cell(obj: Mapping[str, Any]) -> str:
    return ",".join(str(c.get("image", "")) for c in _containers(obj))


def selector_cell(obj: Mapping[str, Any]) -> str:
    spec = obj.get("spec")
    return format_selector(spec.get("selector") if isinstance(spec, Mapping) else None)


def int_at(obj: Mapping[str, Any], part: str, key: str, default: int = 0) -> int:
    """``obj[part][key]`` as an integer (``default`` when absent or not one)."""
    holder = obj.get(part)
    value = holder.get(key) if isinstance(holder, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else default
