"""A Job's ``podFailurePolicy`` applied to one failed Pod: which rule matches, if any.

Pure functions over the typed policy (:mod:`kawa.apis.batch.pod_failure_policy`) and a Pod
as stored, as Kubernetes' job controller matches them (``matchPodFailurePolicy``): rules in
order, the first match decides. ``onExitCodes`` looks at the containers' then the init
containers' terminated states (exit code 0 never matches), restricted to ``containerName``
when it is set; ``onPodConditions`` at the Pod's conditions (type and status). Called by
:mod:`kawa.controllers.batch.job` for each failed Pod of a Job.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kawa.apis.batch.pod_failure_policy import OnExitCodes, OnPodCondition, PodFailurePolicy


@dataclass(frozen=True, slots=True)
class Match:
    """The rule that matched a failed Pod: its action, its index, and why (the message a
    ``FailJob`` writes in the Job's conditions)."""

    action: str
    index: int
    message: str


def match(policy: PodFailurePolicy | None, pod: Mapping[str, Any]) -> Match | None:
    """The first rule of ``policy`` that ``pod`` (a failed Pod) matches; None when none does
    (the failure is counted)."""
    if policy is None:
        return None
    meta = pod.get("metadata") or {}
    who = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    for index, rule in enumerate(policy.rules):
        why = ""
        if rule.on_exit_codes is not None:
            found = _exit_code(rule.on_exit_codes, pod)
            if found is not None:
                container, code = found
                why = f"Container {container} for pod {who} failed with exit code {code}"
        elif rule.on_pod_conditions is not None:
            condition = _condition(rule.on_pod_conditions, pod)
            if condition is not None:
                why = f"Pod {who} has condition {condition}"
        if why:
            return Match(rule.action, index, f"{why} matching {rule.action} rule at index {index}")
    return None


def _terminated(pod: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    """(container name, exit code) of every terminated container, init containers last."""
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses"):
        for item in status.get(key) or ():
            state = item.get("state") if isinstance(item, Mapping) else None
            ended = state.get("terminated") if isinstance(state, Mapping) else None
            code = ended.get("exitCode") if isinstance(ended, Mapping) else None
            if isinstance(code, int) and not isinstance(code, bool):
                yield str(item.get("name", "")), code


def _exit_code(rule: OnExitCodes, pod: Mapping[str, Any]) -> tuple[str, int] | None:
    for name, code in _terminated(pod):
        if code == 0 or (rule.container_name is not None and name != rule.container_name):
            continue
        if (code in rule.values) == (rule.operator == "In"):
            return name, code
    return None


def _condition(patterns: list[OnPodCondition], pod: Mapping[str, Any]) -> str | None:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    for pattern in patterns:
        for condition in conditions:
            if (
                isinstance(condition, Mapping)
                and condition.get("type") == pattern.type
                and condition.get("status") == pattern.status
            ):
                return pattern.type
    return None
