"""The Namespace strategy: the namespaces Kubernetes never deletes, and namespace termination.

``default``, ``kube-system`` and ``kube-public`` are refused with 403 (Kubernetes'
NamespaceLifecycle admission calls them immortal); a delete of all namespaces leaves them
out. Deleting another namespace does not remove it at once (Kubernetes' namespace registry):
the first delete sets ``metadata.deletionTimestamp`` and ``status.phase: Terminating`` and
makes sure ``spec.finalizers`` holds ``kubernetes``; the namespace controller
(:mod:`kawa.controllers.namespaces`) then deletes what the namespace holds, waits for the
objects' own finalizers, and takes ``kubernetes`` away, which removes the namespace (with no
``metadata.finalizers`` left). A later delete changes nothing while ``spec.finalizers``
remain. Only that controller changes ``spec.finalizers``: updates keep them.

Pure; looked up by :func:`kawa.apiserver.strategies.for_kind`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from kawa.apis.conditions import format_time
from kawa.apis.core import namespace
from kawa.apiserver.strategies.base import IMMEDIATE, Deletion, Strategy

PROTECTED_NAMESPACES: Final = frozenset({"default", "kube-system", "kube-public"})
"""Namespaces Kubernetes refuses to delete."""


def _spec_finalizers(obj: Mapping[str, Any]) -> list[Any]:
    spec = obj.get("spec")
    found = spec.get("finalizers") if isinstance(spec, Mapping) else None
    return list(found) if isinstance(found, list) else []


class NamespaceStrategy(Strategy):
    """Namespaces: the protected ones are never deleted; the others terminate."""

    def prepare_for_update(self, old: Mapping[str, Any], new: dict[str, Any]) -> None:
        super().prepare_for_update(old, new)
        old_spec, spec = old.get("spec"), new.get("spec")
        if not isinstance(spec, dict):
            return
        if isinstance(old_spec, Mapping) and "finalizers" in old_spec:
            spec["finalizers"] = _spec_finalizers(old)
        else:
            spec.pop("finalizers", None)

    def forbids_deletion(self, name: str) -> str | None:
        if name in PROTECTED_NAMESPACES:
            return f'namespaces "{name}" is forbidden: this namespace may not be deleted'
        return None

    def plan_deletion(
        self, obj: Mapping[str, Any], grace_period: int | None, now: datetime
    ) -> Deletion:
        metadata = obj.get("metadata")
        if isinstance(metadata, Mapping) and metadata.get("deletionTimestamp"):
            # terminating: removed once the controller has emptied it (the store keeps it
            # while metadata.finalizers remain)
            return Deletion(False) if _spec_finalizers(obj) else IMMEDIATE
        finalizers = _spec_finalizers(obj)
        if namespace.KUBERNETES_FINALIZER not in finalizers:
            finalizers.append(namespace.KUBERNETES_FINALIZER)
        return Deletion(
            False,
            {"deletionTimestamp": format_time(now)},
            spec={"finalizers": finalizers},
            status={"phase": namespace.TERMINATING},
        )
