"""A Job's ``spec.podFailurePolicy`` (batch/v1): what a failed Pod means for its Job.

Rules are tried in order against a Pod that failed; the first that matches decides:
``FailJob`` (the Job fails at once, reason ``PodFailurePolicy``), ``Ignore`` (the failure is
not counted against ``backoffLimit`` and the Pod is replaced), ``Count`` (counted, as
without a policy). A rule matches on the exit codes of the Pod's containers
(``onExitCodes``: ``In`` or ``NotIn`` a set of codes; containers that exited 0 never match)
or on its conditions (``onPodConditions``: a ``DisruptionTarget`` condition, set on a Pod
whose node was lost, for instance). A Pod that no rule matches is counted.

The rules here are Kubernetes' validation (``validatePodFailurePolicy``): one of
``onExitCodes`` and ``onPodConditions`` per rule; exit-code values unique, in increasing
order, at most 255, never 0 with ``In``; the template's ``restartPolicy`` ``Never``;
``FailIndex`` only for Indexed Jobs (which kawa does not run). The matching is
:mod:`kawa.controllers.batch.failure_policy`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Final, Literal

from kawa.apis.model.base import Context, Model, doc
from kawa.errors import FieldError

FAIL_JOB: Final = "FailJob"
FAIL_INDEX: Final = "FailIndex"
IGNORE: Final = "Ignore"
COUNT: Final = "Count"
POD_FAILURE_POLICY_REASON: Final = "PodFailurePolicy"
"""The reason of a Job failed by a ``FailJob`` rule."""
MAX_RULES: Final = 20
MAX_VALUES: Final = 255
MAX_PATTERNS: Final = 20


class OnExitCodes(Model):
    """Which exit codes of the Pod's containers a rule matches."""

    container_name: Annotated[
        str | None,
        doc("Only this container's (or init container's) exit code; unset: any container."),
    ] = None
    operator: Annotated[
        Literal["In", "NotIn"],
        doc("In: an exit code among the values matches; NotIn: an exit code not among them."),
    ]
    values: Annotated[
        list[int], doc("The exit codes: unique, in increasing order, 0 not allowed with In.")
    ]

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if not self.values:
            yield FieldError("values", "Required value")
        if len(self.values) > MAX_VALUES:
            yield FieldError(
                "values", f"Too many: {len(self.values)}: must have at most {MAX_VALUES} items"
            )
        for i, value in enumerate(self.values):
            if self.operator == "In" and value == 0:
                yield FieldError(
                    f"values[{i}]", "Invalid value: 0: must not be 0 for the In operator"
                )
            if i and value == self.values[i - 1]:
                yield FieldError(f"values[{i}]", f"Duplicate value: {value}")
            elif i and value < self.values[i - 1]:
                yield FieldError(f"values[{i}]", f"Invalid value: {value}: must be ordered")


class OnPodCondition(Model):
    """A Pod condition a rule matches."""

    type: Annotated[str, doc("The condition's type, e.g. DisruptionTarget.", min_length=1)]
    status: Annotated[
        Literal["True", "False", "Unknown"], doc("The condition's status (default True).")
    ] = "True"


class PodFailurePolicyRule(Model):
    """What a failed Pod that matches means for the Job."""

    action: Annotated[
        Literal["FailJob", "FailIndex", "Ignore", "Count"],
        doc(
            "FailJob: fail the Job; Ignore: do not count the failure; Count: count it "
            "(FailIndex: Indexed Jobs only)."
        ),
    ]
    on_exit_codes: Annotated[OnExitCodes | None, doc("Match on the containers' exit codes.")] = None
    on_pod_conditions: Annotated[
        list[OnPodCondition] | None, doc("Match on the Pod's conditions (any of them).")
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.on_exit_codes is None and self.on_pod_conditions is None:
            yield FieldError("", "Invalid value: specify one of onExitCodes and onPodConditions")
        elif self.on_exit_codes is not None and self.on_pod_conditions is not None:
            yield FieldError(
                "", "Invalid value: specify one of onExitCodes and onPodConditions, but not both"
            )
        if self.on_pod_conditions is not None and len(self.on_pod_conditions) > MAX_PATTERNS:
            yield FieldError(
                "onPodConditions",
                f"Too many: {len(self.on_pod_conditions)}: must have at most {MAX_PATTERNS} items",
            )
        if self.action == FAIL_INDEX:
            yield FieldError(
                "action",
                'Invalid value: "FailIndex": only for Indexed Jobs (kawa runs NonIndexed ones)',
            )


class PodFailurePolicy(Model):
    """How the Job treats its failed Pods."""

    rules: Annotated[
        list[PodFailurePolicyRule], doc("The rules, tried in order; the first match decides.")
    ]

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if len(self.rules) > MAX_RULES:
            yield FieldError(
                "rules", f"Too many: {len(self.rules)}: must have at most {MAX_RULES} items"
            )
