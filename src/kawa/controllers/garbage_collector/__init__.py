"""Kubernetes' garbage collector for every kind kawa serves: dependents (objects whose
``metadata.ownerReferences`` name an owner) go when their owners are gone, and deletions with
``propagationPolicy: Foreground`` or ``Orphan`` are carried out (ADR 0031-garbage-collector).

- :mod:`.graph`: the index of dependents by owner uid, kept by watches (pure);
- :mod:`.collector`: the watches, the work queue and what is done to each object.

:func:`garbage_collector` builds it for :mod:`kawa.runtime`.
"""

from __future__ import annotations

from kawa.apis.registry import SCHEME, Scheme
from kawa.controllers.garbage_collector.collector import GarbageCollector
from kawa.store.base import ResourceStore


def garbage_collector(store: ResourceStore, scheme: Scheme = SCHEME) -> GarbageCollector:
    """The garbage collector of ``store``, ready to ``run()``."""
    return GarbageCollector(store, scheme)


__all__ = ["GarbageCollector", "garbage_collector"]
