"""The arithmetic of a Deployment's rollout, on ReplicaSet dicts (Kubernetes' deployment
controller's rules, in kawa's words): which ReplicaSet is the new one, revisions, how many
Pods the new ReplicaSet may have during a rolling update, how many old ones may go, which
old ReplicaSets the history limit removes, and the Deployment's status numbers.

Pure; used by :mod:`.deployment`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kawa.apis import meta
from kawa.apis.apps import workload
from kawa.apis.apps.workload import REVISION


def replicas(rs: Mapping[str, Any]) -> int:
    return workload.int_at(rs, "spec", "replicas", 1)


def current(rs: Mapping[str, Any]) -> int:
    return workload.int_at(rs, "status", "replicas")


def available(rs: Mapping[str, Any]) -> int:
    return workload.int_at(rs, "status", "availableReplicas")


def ready(rs: Mapping[str, Any]) -> int:
    return workload.int_at(rs, "status", "readyReplicas")


def revision(obj: Mapping[str, Any]) -> int:
    value = meta.annotations_of(obj).get(REVISION, "")
    return int(value) if value.isdigit() else 0


def created(rs: Mapping[str, Any]) -> tuple[str, str]:
    metadata = meta.metadata_of(rs)
    return (str(metadata.get("creationTimestamp") or ""), str(metadata.get("name") or ""))


def template_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    return template if isinstance(template, Mapping) else {}


def find_new(
    template: Mapping[str, Any], owned: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The oldest ReplicaSet whose template is ``template`` (their hash labels aside)."""
    wanted = workload.without_hash(template)
    for rs in sorted(owned, key=created):
        if workload.without_hash(template_of(rs)) == wanted:
            return rs
    return None


def new_replicas(
    desired: int, surge: int, all_sets: Iterable[Mapping[str, Any]], new: Mapping[str, Any] | None
) -> int:
    """What the new ReplicaSet may have now in a rolling update: up to ``desired``, as far as
    ``desired + surge`` Pods in all allow."""
    have = replicas(new) if new is not None else 0
    if have >= desired:
        return desired
    total = sum(replicas(rs) for rs in all_sets)
    room = desired + surge - total
    if room <= 0:
        return have
    return have + min(room, desired - have)


@dataclass(frozen=True, slots=True)
class ScaleDown:
    name: str
    replicas: int


def old_scale_downs(
    desired: int,
    unavailable: int,
    new: Mapping[str, Any] | None,
    olds: Sequence[Mapping[str, Any]],
) -> list[ScaleDown]:
    """The old ReplicaSets to scale down in a rolling update (new replicas each), keeping at
    least ``desired - unavailable`` Pods available: first Pods of old ReplicaSets that are not
    available, then available ones, the oldest ReplicaSets first."""
    if sum(current(rs) for rs in olds) == 0:
        return []
    all_sets = [*([new] if new is not None else []), *olds]
    min_available = desired - unavailable
    new_unavailable = (replicas(new) - available(new)) if new is not None else 0
    budget = sum(replicas(rs) for rs in all_sets) - min_available - new_unavailable
    if budget <= 0:
        return []
    wanted = {created(rs): replicas(rs) for rs in olds}
    ordered = sorted(olds, key=created)
    for rs in ordered:  # unhealthy Pods of old ReplicaSets go first
        if budget <= 0:
            break
        unhealthy = wanted[created(rs)] - available(rs)
        if unhealthy <= 0:
            continue
        cut = min(budget, unhealthy)
        wanted[created(rs)] -= cut
        budget -= cut
    total_available = sum(available(rs) for rs in all_sets)
    room = min(budget, total_available - min_available)
    for rs in ordered:
        if room <= 0:
            break
        cut = min(wanted[created(rs)], room)
        wanted[created(rs)] -= cut
        room -= cut
    return [
        ScaleDown(created(rs)[1], wanted[created(rs)])
        for rs in ordered
        if wanted[created(rs)] != replicas(rs)
    ]


def to_clean(olds: Sequence[Mapping[str, Any]], limit: int) -> list[Mapping[str, Any]]:
    """Old ReplicaSets beyond the history limit, oldest revision first (only ones scaled to
    zero with no Pods left, not being deleted)."""
    idle = [
        rs
        for rs in olds
        if replicas(rs) == 0
        and current(rs) == 0
        and not meta.metadata_of(rs).get("deletionTimestamp")
    ]
    extra = len(idle) - limit
    if extra <= 0:
        return []
    return sorted(idle, key=lambda rs: (revision(rs), created(rs)))[:extra]


def status_numbers(
    all_sets: Sequence[Mapping[str, Any]], new: Mapping[str, Any] | None
) -> dict[str, int]:
    """The Deployment's ``replicas``, ``updatedReplicas``, ``readyReplicas``,
    ``availableReplicas`` and ``unavailableReplicas``."""
    total_available = sum(available(rs) for rs in all_sets)
    wanted = sum(replicas(rs) for rs in all_sets)
    return {
        "replicas": sum(current(rs) for rs in all_sets),
        "updatedReplicas": current(new) if new is not None else 0,
        "readyReplicas": sum(ready(rs) for rs in all_sets),
        "availableReplicas": total_available,
        "unavailableReplicas": max(wanted - total_available, 0),
    }
