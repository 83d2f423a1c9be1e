"""The Namespace kind (core/v1): cluster-scoped, named by a DNS-1123 label.

A new Namespace is reported ``Active`` (:meth:`Namespace.set_defaults`); the namespace
controller marks it ``Terminating`` while it empties it (:func:`mark_terminating`) and removes
its ``spec.finalizers`` entry when done; a terminating Namespace never becomes active again
(:meth:`Namespace.check_update`). Declared in :mod:`kawa.apis.core`; used by the API server (a
namespaced object needs its Namespace) and the namespace controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from kawa.apis import meta
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "Namespace"

ACTIVE: Final = "Active"
TERMINATING: Final = "Terminating"
Phase = Literal["Active", "Terminating"]
PHASES: Final = (ACTIVE, TERMINATING)
KUBERNETES_FINALIZER: Final = "kubernetes"


class NamespaceSpec(Model):
    """What the Namespace's owner asks for."""

    finalizers: Annotated[
        list[str], doc("Names of the parties that must clean up before the Namespace is removed.")
    ] = []


class Namespace(KubeObject):
    """A Namespace: a named scope that groups namespaced objects and their names."""

    spec: Annotated[NamespaceSpec | None, doc("What the Namespace's owner asks for.")] = None

    @property
    def namespace(self) -> str:
        """A Namespace lives in no namespace."""
        return ""

    @property
    def finalizers(self) -> list[str]:
        return [] if self.spec is None else list(self.spec.finalizers)

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """A new Namespace is ``Active`` and waits for the namespace controller
        (``spec.finalizers`` holds ``kubernetes``) when deleted, as Kubernetes makes it."""
        status = data.setdefault("status", {})
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = ACTIVE
        spec = data.setdefault("spec", {})
        if isinstance(spec, dict):
            finalizers = spec.get("finalizers")
            if finalizers is None:
                spec["finalizers"] = [KUBERNETES_FINALIZER]
            elif isinstance(finalizers, list) and KUBERNETES_FINALIZER not in finalizers:
                spec["finalizers"] = [*finalizers, KUBERNETES_FINALIZER]

    def check(self, ctx: Context) -> Iterable[FieldError]:
        """The name is a DNS label (a valid subdomain with a dot is still refused); the
        names of ``spec.finalizers`` are standard or domain-qualified."""
        name = self.name
        if name and not meta.dns1123_subdomain_errors(name):
            for problem in meta.dns1123_label_errors(name):
                yield FieldError("metadata.name", f"invalid value {name!r}: {problem}")
        yield from meta.finalizer_errors(self.finalizers, "spec.finalizers", standard=True)

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        """A Namespace that is ``Terminating`` cannot become ``Active`` again."""
        if _phase(old) == TERMINATING and _phase(new) != TERMINATING:
            yield FieldError("status.phase", "a terminating namespace cannot become active again")


def parse_namespace(obj: Mapping[str, Any]) -> Namespace:
    """A Namespace dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem at its field path."""
    return parse_object(Namespace, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=False)


class NamespaceCondition(Model):
    """How the deletion of a Namespace goes (set by the namespace controller)."""

    type: Annotated[str, doc("NamespaceContentRemaining, NamespaceFinalizersRemaining...")]
    status: Annotated[str, doc("True, False or Unknown.")]
    last_transition_time: Annotated[
        str | None, doc("When the condition last changed its status.")
    ] = None
    reason: Annotated[str, doc("A one-word, CamelCase reason for the last transition.")] = ""
    message: Annotated[str, doc("What happened, for people.")] = ""


class NamespaceStatus(Model):
    """The Namespace's observed state."""

    phase: Annotated[
        Phase | None,
        doc("Active while the Namespace is usable; Terminating while it is emptied for deletion."),
    ] = None
    conditions: Annotated[
        list[NamespaceCondition] | None,
        doc("How the Namespace's deletion goes, while it is terminating."),
    ] = None


def _phase(obj: Mapping[str, Any]) -> Any:
    status = obj.get("status")
    return status.get("phase") if isinstance(status, Mapping) else None


def mark_terminating(obj: dict[str, Any]) -> None:
    """Report the Namespace (a stored dict, changed in place) as ``Terminating``."""
    obj.setdefault("status", {})["phase"] = TERMINATING
