"""Status conditions and the summary ``Ready`` (modelled on knative.dev/pkg ``apis.ConditionSet``).

Every kawa resource reports ``status.conditions[]``: ``type``, ``status`` (``"True"``,
``"False"``, ``"Unknown"``), ``reason``, ``message``, ``severity`` and ``lastTransitionTime``.
A kind names its *dependent* condition types in a :class:`ConditionSet`; marking one of them
recomputes the *happy* condition (``Ready``):

* ``False`` if any dependent is ``False`` (reason and message of the first, in declared order),
* else ``Unknown`` if any dependent is ``Unknown`` or not reported yet,
* else ``True``.

``lastTransitionTime`` (RFC 3339, seconds, UTC) changes only when a condition's status changes;
a mark that changes nothing leaves the dict untouched, so reconcilers can compare before
writing. Severity is ``""`` (Knative's "Error") for the happy condition and its dependents and
``"Info"`` for any other condition type. Empty ``reason``, ``message`` and ``severity`` are
omitted from the dict, as Knative's JSON does (``omitempty``).

Time comes from a :data:`Clock` the caller passes (no hidden global time), so tests are
deterministic. Called by the kinds' status helpers (:mod:`kawa.apis.eventing` ...) and by
reconcilers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

ConditionStatus = Literal["True", "False", "Unknown"]

TRUE: Final = "True"
FALSE: Final = "False"
UNKNOWN: Final = "Unknown"

READY: Final = "Ready"
"""The happy condition of every living resource."""

SEVERITY_ERROR: Final = ""
"""Knative's severity of the happy condition and its dependents (rendered as nothing)."""
SEVERITY_INFO: Final = "Info"
"""Knative's severity of conditions that do not take part in ``Ready``."""
SEVERITY_WARNING: Final = "Warning"
"""Knative's severity of a condition that warns (and does not take part in ``Ready``)."""

Clock = Callable[[], datetime]
"""Returns the current time as an aware datetime."""


def system_clock() -> datetime:
    """The real clock (UTC); pass it explicitly where the real time is wanted."""
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes' ``metav1.Time`` renders it."""
    if moment.tzinfo is None:
        raise ValueError("the clock must return an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Condition:
    """One entry of ``status.conditions``."""

    type: str
    status: ConditionStatus
    reason: str = ""
    message: str = ""
    severity: str = ""
    last_transition_time: str = ""

    @property
    def is_true(self) -> bool:
        return self.status == TRUE

    @property
    def is_false(self) -> bool:
        return self.status == FALSE

    def to_dict(self) -> dict[str, str]:
        out = {"type": self.type, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.message:
            out["message"] = self.message
        if self.severity:
            out["severity"] = self.severity
        if self.last_transition_time:
            out["lastTransitionTime"] = self.last_transition_time
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        """Read a stored condition; an unrecognised status reads as ``Unknown``."""
        status = data.get("status")
        return cls(
            type=str(data.get("type", "")),
            status=status if status in (TRUE, FALSE) else UNKNOWN,
            reason=str(data.get("reason") or ""),
            message=str(data.get("message") or ""),
            severity=str(data.get("severity") or ""),
            last_transition_time=str(data.get("lastTransitionTime") or ""),
        )


def get_condition(status: Mapping[str, Any], type_: str) -> Condition | None:
    """The condition ``type_`` of a ``status`` dict, or ``None`` when it is not reported."""
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return None
    for item in conditions:
        if isinstance(item, Mapping) and item.get("type") == type_:
            return Condition.from_dict(item)
    return None


@dataclass(frozen=True, slots=True)
class ConditionSet:
    """The condition types of one kind: ``happy`` (``Ready``) derived from ``dependents``.

    Methods take the ``status`` dict of an object (``obj.setdefault("status", {})``) and
    update ``status["conditions"]`` in place, keeping it sorted by type like Knative does.
    """

    dependents: tuple[str, ...]
    happy: str = READY

    def __post_init__(self) -> None:
        if self.happy in self.dependents:
            raise ValueError(f"{self.happy!r} cannot depend on itself")

    def get(self, status: Mapping[str, Any], type_: str) -> Condition | None:
        return get_condition(status, type_)

    def is_ready(self, status: Mapping[str, Any]) -> bool:
        """Whether the happy condition is ``True``."""
        happy = get_condition(status, self.happy)
        return happy is not None and happy.is_true

    def initialize(self, status: dict[str, Any], *, clock: Clock) -> None:
        """Report every not-yet-reported condition of the set as ``Unknown``."""
        for type_ in (*self.dependents, self.happy):
            if get_condition(status, type_) is None:
                self._set(status, Condition(type_, UNKNOWN, severity=self._severity(type_)), clock)

    def mark_true(
        self,
        status: dict[str, Any],
        type_: str,
        reason: str = "",
        message: str = "",
        *,
        clock: Clock,
    ) -> None:
        """Set ``type_`` to ``True`` (a reason is optional, as in Knative's MarkTrueWithReason)."""
        self._mark(status, Condition(type_, TRUE, reason, message, self._severity(type_)), clock)

    def mark_false(
        self, status: dict[str, Any], type_: str, reason: str, message: str, *, clock: Clock
    ) -> None:
        self._mark(status, Condition(type_, FALSE, reason, message, self._severity(type_)), clock)

    def mark_unknown(
        self, status: dict[str, Any], type_: str, reason: str, message: str, *, clock: Clock
    ) -> None:
        self._mark(status, Condition(type_, UNKNOWN, reason, message, self._severity(type_)), clock)

    def mark_warning(
        self, status: dict[str, Any], type_: str, reason: str, message: str, *, clock: Clock
    ) -> None:
        """Set ``type_`` (not one ``Ready`` is derived from) to ``False`` with severity
        ``Warning``: something the reader should know that does not stop the resource."""
        if type_ == self.happy or type_ in self.dependents:
            raise ValueError(f"{type_!r} takes part in {self.happy!r}: it cannot be a warning")
        self._set(status, Condition(type_, FALSE, reason, message, SEVERITY_WARNING), clock)

    def clear(self, status: dict[str, Any], type_: str) -> None:
        """Take ``type_`` (not one ``Ready`` is derived from) out of the conditions."""
        conditions = status.get("conditions")
        if isinstance(conditions, list):
            kept = [
                c for c in conditions if not (isinstance(c, Mapping) and c.get("type") == type_)
            ]
            if len(kept) != len(conditions):
                status["conditions"] = kept

    def propagate(
        self,
        status: dict[str, Any],
        type_: str,
        source: Condition | None,
        *,
        reason_if_missing: str,
        message_if_missing: str,
        clock: Clock,
    ) -> None:
        """Copy another object's condition (e.g. a Broker's ``Ready``) into ``type_``.

        ``None`` (the other object or its condition is missing) marks ``type_`` ``Unknown``
        with the given reason and message.
        """
        if source is None:
            self.mark_unknown(status, type_, reason_if_missing, message_if_missing, clock=clock)
        elif source.is_true:
            self.mark_true(status, type_, clock=clock)
        elif source.is_false:
            self.mark_false(status, type_, source.reason, source.message, clock=clock)
        else:
            self.mark_unknown(status, type_, source.reason, source.message, clock=clock)

    def _severity(self, type_: str) -> str:
        if type_ == self.happy or type_ in self.dependents:
            return SEVERITY_ERROR
        return SEVERITY_INFO

    def _mark(self, status: dict[str, Any], condition: Condition, clock: Clock) -> None:
        self._set(status, condition, clock)
        if condition.type in self.dependents:
            self._set(status, self._summary(status), clock)

    def _summary(self, status: Mapping[str, Any]) -> Condition:
        first_unknown: Condition | None = None
        for type_ in self.dependents:
            condition = get_condition(status, type_)
            if condition is None:
                condition = Condition(type_, UNKNOWN)
            if condition.is_false:
                return Condition(self.happy, FALSE, condition.reason, condition.message)
            if not condition.is_true and first_unknown is None:
                first_unknown = condition
        if first_unknown is not None:
            return Condition(self.happy, UNKNOWN, first_unknown.reason, first_unknown.message)
        return Condition(self.happy, TRUE)

    @staticmethod
    def _set(status: dict[str, Any], condition: Condition, clock: Clock) -> None:
        conditions = status.get("conditions")
        if not isinstance(conditions, list):
            conditions = status["conditions"] = []
        index = next(
            (
                i
                for i, item in enumerate(conditions)
                if isinstance(item, Mapping) and item.get("type") == condition.type
            ),
            None,
        )
        if index is None:
            when = format_time(clock())
        else:
            old = Condition.from_dict(conditions[index])
            if old.status == condition.status and old.last_transition_time:
                when = old.last_transition_time
            else:
                when = format_time(clock())
        new = Condition(
            condition.type,
            condition.status,
            condition.reason,
            condition.message,
            condition.severity,
            when,
        ).to_dict()
        if index is not None:
            if conditions[index] == new:
                return
            del conditions[index]
        conditions.append(new)
        conditions.sort(
            key=lambda item: str(item.get("type", "")) if isinstance(item, Mapping) else ""
        )
