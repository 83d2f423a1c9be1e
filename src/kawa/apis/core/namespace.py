"""The Namespace kind (core/v1): cluster-scoped, named by a DNS-1123 label.

:func:`default_namespace` reports a new Namespace as ``Active``; the namespace controller
marks it ``Terminating`` while it empties it (:func:`mark_terminating`) and removes its
``spec.finalizers`` entry when done. Declared in :mod:`kawa.apis.core`; used by the API
server (a namespaced object needs its Namespace) and the namespace controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.core import fields
from kawa.apis.core.fields import s_obj, s_str, s_strs
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "Namespace"

ACTIVE: Final = "Active"
TERMINATING: Final = "Terminating"
PHASES: Final = (ACTIVE, TERMINATING)
KUBERNETES_FINALIZER: Final = "kubernetes"


@dataclass(frozen=True, slots=True)
class Namespace:
    """A validated Namespace."""

    name: str
    uid: str
    finalizers: tuple[str, ...]
    phase: str

    @property
    def terminating(self) -> bool:
        return self.phase == TERMINATING


def default_namespace(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` with ``status.phase`` ``Active`` when unset."""
    out = fields.copy_object(obj)
    status = out.setdefault("status", {})
    if isinstance(status, dict) and not status.get("phase"):
        status["phase"] = ACTIVE
    return out


def parse_namespace(obj: Mapping[str, Any]) -> Namespace:
    """Validate a Namespace dict (defaults applied to a copy) and return its typed view."""
    obj = default_namespace(obj)
    errors: list[FieldError] = []
    fields.check_header(obj, API_VERSION, KIND, errors, namespaced=False)
    name = meta.metadata_of(obj).get("name")
    if isinstance(name, str) and name and not meta.dns1123_subdomain_errors(name):
        fields.dns_label(name, "metadata.name", errors)
    finalizers: tuple[str, ...] = ()
    spec = meta.read_mapping(obj, "spec", "spec", errors)
    if spec is not None:
        finalizers = fields.read_str_list(spec, "finalizers", "spec.finalizers", errors)
    phase = ACTIVE
    status = meta.read_mapping(obj, "status", "status", errors)
    if status is not None:
        phase = fields.read_enum(status, "phase", "status.phase", errors, PHASES) or ACTIVE
    fields.raise_if(errors, KIND, obj, namespaced=False)
    return Namespace(fields.name_of(obj), fields.uid_of(obj), finalizers, phase)


def validate_namespace(obj: Mapping[str, Any]) -> None:
    parse_namespace(obj)


def _phase(obj: Mapping[str, Any]) -> Any:
    status = default_namespace(obj).get("status")
    return status.get("phase") if isinstance(status, Mapping) else None


def validate_namespace_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A Namespace that is ``Terminating`` cannot become ``Active`` again."""
    old_phase, new_phase = _phase(old), _phase(new)
    errors: list[FieldError] = []
    if old_phase == TERMINATING and new_phase != TERMINATING:
        errors.append(
            FieldError("status.phase", "a terminating namespace cannot become active again")
        )
    fields.raise_if(errors, KIND, new, namespaced=False)


def mark_terminating(obj: dict[str, Any]) -> None:
    """Report the Namespace (a stored dict, changed in place) as ``Terminating``."""
    obj.setdefault("status", {})["phase"] = TERMINATING


SCHEMA: Final = s_obj(
    "A Namespace: a named scope that groups namespaced objects and their names.",
    {
        "spec": s_obj(
            "What the Namespace's owner asks for.",
            {
                "finalizers": s_strs(
                    "Names of the parties that must clean up before the Namespace is removed."
                )
            },
        ),
        "status": s_obj(
            "The Namespace's observed state.",
            {
                "phase": s_str(
                    "Active while the Namespace is usable; Terminating while it is emptied "
                    "for deletion.",
                    enum=PHASES,
                )
            },
        ),
    },
)
