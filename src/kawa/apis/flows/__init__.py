"""The flows.knative.dev API group: Sequence and Parallel.

One module per kind (:mod:`.sequence`, :mod:`.parallel`, sharing :mod:`.common`), shaped like
Knative's ``pkg/apis/flows/v1``; :data:`KINDS` declares them for the registry.
"""

from __future__ import annotations

from typing import Final

from kawa.apis import kn_common
from kawa.apis.flows import common, parallel, sequence
from kawa.apis.kinds import ResourceKind

GROUP: Final = common.GROUP
_COLUMNS: Final = (kn_common.URL, kn_common.AGE, kn_common.READY, kn_common.REASON)
_CATEGORIES: Final = ("all", "knative", "flows")

SEQUENCE: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=sequence.KIND,
    plural="sequences",
    singular="sequence",
    namespaced=True,
    model=sequence.Sequence,
    status=sequence.SequenceStatus,
    categories=_CATEGORIES,
    printer_columns=_COLUMNS,
)

PARALLEL: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=parallel.KIND,
    plural="parallels",
    singular="parallel",
    namespaced=True,
    model=parallel.Parallel,
    status=parallel.ParallelStatus,
    categories=_CATEGORIES,
    printer_columns=_COLUMNS,
)

KINDS: Final[tuple[ResourceKind, ...]] = (SEQUENCE, PARALLEL)

__all__ = ["GROUP", "KINDS", "PARALLEL", "SEQUENCE"]
