"""The Pod kind (core/v1): its declaration, defaults and update rules.

kawa runs a Pod's containers as local processes (the serving runtime), so ``image`` is
required but its format is free. The spec is a :class:`~kawa.apis.core.pod_spec.PodSpec`,
which carries the Kubernetes API server's defaults (``restartPolicy: Always``, a 30 s grace
period, ``ClusterFirst`` DNS, TCP ports, image pull policies, the ``default``
ServiceAccount); a new Pod's phase is ``Pending``. :meth:`Pod.check_update` keeps a Pod's spec
immutable except what Kubernetes lets change. The status (``PodStatus``), its helpers and
``kubectl get pods`` cells are in :mod:`kawa.apis.core.pod_status`. Declared in
:mod:`kawa.apis.core`; the thin :func:`default_pod`, :func:`parse_pod` and :func:`validate_pod`
serve the controllers that make Pods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import meta
from kawa.apis.core.pod_spec import DEFAULT_GRACE_PERIOD, PodSpec
from kawa.apis.model.base import Context, doc
from kawa.apis.model.objects import KubeObject, default_object, json_copy, parse_object
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "Pod"
NODE_NAME: Final = "kawa"
"""The name of kawa's one node: the ``spec.nodeName`` its kubelet binds Pods to."""

__all__ = [
    "API_VERSION",
    "DEFAULT_GRACE_PERIOD",
    "KIND",
    "NODE_NAME",
    "Pod",
    "default_pod",
    "parse_pod",
]

_MUTABLE_HELP: Final = (
    "pod updates may not change fields other than spec.containers[*].image, "
    "spec.initContainers[*].image, spec.activeDeadlineSeconds, spec.tolerations "
    "(only additions to existing tolerations) and an unset spec.nodeName"
)


class Pod(KubeObject):
    """A Pod: a group of containers run together on one node (by kawa, as local processes)."""

    spec: Annotated[
        PodSpec,
        doc(
            "The desired Pod; immutable after creation except container images and a few "
            "scheduling fields."
        ),
    ]

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """A new Pod is ``Pending``."""
        status = data.get("status")
        if status is None:
            status = data["status"] = {}
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Pending"

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        """Kubernetes' rule: a Pod's spec is immutable but for a few fields.

        Allowed: the ``image`` of containers and init containers, ``activeDeadlineSeconds``
        (set or lowered, never raised or removed), new ``tolerations`` after the existing
        ones, and a ``nodeName`` set where it was empty (binding a Pod to a node). Every other
        difference is reported at its path.
        """
        old_spec, new_spec = old.get("spec"), new.get("spec")
        if not isinstance(old_spec, Mapping) or not isinstance(new_spec, Mapping):
            return []
        errors: list[FieldError] = []
        # What the new spec would be if only the allowed fields had changed.
        masked, _ = json_copy(new_spec)
        for key in ("containers", "initContainers"):
            olds, news = old_spec.get(key), masked.get(key)
            if isinstance(olds, list) and isinstance(news, list) and len(olds) == len(news):
                for a, b in zip(olds, news, strict=True):
                    if isinstance(a, Mapping) and isinstance(b, dict):
                        b["image"] = a.get("image")
                        if "imagePullPolicy" in a:
                            b["imagePullPolicy"] = a["imagePullPolicy"]
        old_deadline = old_spec.get("activeDeadlineSeconds")
        new_deadline = new_spec.get("activeDeadlineSeconds")
        if old_deadline != new_deadline:
            if new_deadline is None or (
                isinstance(old_deadline, int)
                and isinstance(new_deadline, int)
                and new_deadline > old_deadline
            ):
                errors.append(
                    FieldError(
                        "spec.activeDeadlineSeconds",
                        "may only be set or lowered, never raised or removed",
                    )
                )
            _restore(masked, old_spec, "activeDeadlineSeconds")
        old_tol = old_spec.get("tolerations") or []
        new_tol = new_spec.get("tolerations") or []
        appended = (
            isinstance(old_tol, list)
            and isinstance(new_tol, list)
            and new_tol[: len(old_tol)] == old_tol
        )
        if old_tol != new_tol and appended:
            _restore(masked, old_spec, "tolerations")
        if not old_spec.get("nodeName") and new_spec.get("nodeName"):
            _restore(masked, old_spec, "nodeName")
        errors.extend(
            FieldError(path, f"field is immutable: {_MUTABLE_HELP}")
            for path in first_differences(old_spec, masked, "spec")
        )
        return errors


def _restore(target: dict[str, Any], source: Mapping[str, Any], key: str) -> None:
    if key in source:
        target[key] = source[key]
    else:
        target.pop(key, None)


def first_differences(old: Any, new: Any, path: str, limit: int = 10) -> list[str]:
    """The paths (at most ``limit``) where ``old`` and ``new`` differ, deepest first found."""
    found: list[str] = []
    _diff(old, new, path, found, limit)
    return found


def _diff(old: Any, new: Any, path: str, found: list[str], limit: int) -> None:
    if len(found) >= limit or old == new:
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted({*old, *new}, key=str):
            _diff(old.get(key), new.get(key), meta.join(path, str(key)), found, limit)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{i}]", found, limit)
    else:
        found.append(path)


def default_pod(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` with the Kubernetes API server's defaults (what controllers that make
    Pods store)."""
    return default_object(Pod, obj, namespaced=True)


def parse_pod(obj: Mapping[str, Any]) -> Pod:
    """A Pod dict defaulted and validated; raises :class:`~kawa.errors.ValidationError`
    (subject ``"Pod <namespace>/<name>"``) listing every problem at its field path."""
    return parse_object(Pod, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


def validate_pod(obj: Mapping[str, Any]) -> None:
    """Raise :class:`~kawa.errors.ValidationError` when ``obj`` is not a valid Pod."""
    parse_pod(obj)
