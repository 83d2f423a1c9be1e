"""Per-kind strategies: what a kind does differently on the way through the API.

The generic CRUD (:mod:`kawa.apiserver.writes`, :mod:`kawa.apiserver.deletes`) looks up a
kind's :class:`~kawa.apiserver.strategies.base.Strategy` with :func:`for_kind` and calls its
hooks (prepare an update, forbid a deletion, plan a deletion); kinds without rules of their
own get the default. One module per kind with rules: :mod:`~kawa.apiserver.strategies.pod`
(graceful deletion), :mod:`~kawa.apiserver.strategies.namespace` (protected namespaces).
A new kind's rules go into a new module and one row of :data:`STRATEGIES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from kawa.apis.kinds import ResourceKind
from kawa.apiserver.strategies.base import Strategy
from kawa.apiserver.strategies.namespace import NamespaceStrategy
from kawa.apiserver.strategies.pod import PodStrategy

DEFAULT: Final = Strategy()

STRATEGIES: Final[Mapping[tuple[str, str], Strategy]] = MappingProxyType(
    {
        ("", "Namespace"): NamespaceStrategy(),
        ("", "Pod"): PodStrategy(),
    }
)
"""(API group, kind) -> its strategy."""


def for_kind(kind: ResourceKind) -> Strategy:
    """The strategy of ``kind`` (the default for kinds without rules of their own)."""
    return STRATEGIES.get((kind.group, kind.kind), DEFAULT)
