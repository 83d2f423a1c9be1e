"""The Namespace strategy: the namespaces Kubernetes never deletes.

``default``, ``kube-system`` and ``kube-public`` are refused with 403 (Kubernetes'
NamespaceLifecycle admission calls them immortal); a delete of all namespaces leaves them
out. Deleting what a namespace holds is the namespace controller's work, not the API's.
Pure; looked up by :func:`kawa.apiserver.strategies.for_kind`.
"""

from __future__ import annotations

from typing import Final

from kawa.apiserver.strategies.base import Strategy

PROTECTED_NAMESPACES: Final = frozenset({"default", "kube-system", "kube-public"})
"""Namespaces Kubernetes refuses to delete."""


class NamespaceStrategy(Strategy):
    """Namespaces: the protected ones are never deleted."""

    def forbids_deletion(self, name: str) -> str | None:
        if name in PROTECTED_NAMESPACES:
            return f'namespaces "{name}" is forbidden: this namespace may not be deleted'
        return None
