"""Authorization by EventPolicy: may this sender post this event to this receiver?

The pure decision of Knative's ingress authorization (``pkg/auth/verifier.go``), run after the
sender's token is verified and the event parsed, before it is stored. Given the EventPolicies
that apply to the receiver (its ``status.policies``; each with its resolved subjects and its
compiled filters, :class:`AppliedPolicy`), the default authorization mode
(``default-authorization-mode`` of ``knative-eventing/config-features``), the sender's subject
(``None`` when the token had none), the receiver's namespace and the event:

* with applying policies, the event is allowed when one of them allows it: the subject is one
  of its ``status.from`` (compared as Knative does: equal ignoring case, or a ``*``-ended
  entry is a prefix of it) *and* the event passes its filters;
* with none, the default mode decides: ``allow-all`` allows every sender,
  ``allow-same-namespace`` a ServiceAccount of the receiver's namespace
  (``system:serviceaccount:<namespace>:...``), ``deny-all`` none (an unknown mode denies).

:func:`decide` says allowed or not, and why (the message of a 403). No I/O: the caller keeps
the policies in memory (compiled once per policy change, :meth:`AppliedPolicy.from_object`;
``kawa.reconciler.eventpolicies.LiveEventPolicies`` does) and builds the answer. Called by
the ingress authorization hook (:data:`kawa.dispatch.ingress.Authorize`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import features
from kawa.apis.eventing import eventpolicy
from kawa.cloudevents import CloudEvent
from kawa.filters.base import Filter
from kawa.filters.compile import compile_filters


@dataclass(frozen=True, slots=True)
class AppliedPolicy:
    """An EventPolicy as authorization reads it: its name, the subjects of its
    ``status.from`` and its ``spec.filters`` compiled into one filter."""

    name: str
    subjects: tuple[str, ...]
    filter: Filter

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> AppliedPolicy:
        """A stored EventPolicy, parsed and its filters compiled (raises
        :class:`~kawa.errors.ValidationError` for an invalid one)."""
        policy = eventpolicy.parse_eventpolicy(obj)
        return cls(policy.name, eventpolicy.subjects_of(obj), compile_filters(policy.spec.filters))


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether the sender may post the event, and why (``policy``: the one that allowed)."""

    allowed: bool
    reason: str
    policy: str | None = None


def subject_matches(subject: str, allowed: Iterable[str]) -> bool:
    """Whether ``subject`` is one of ``allowed`` (Knative's ``SubjectContained``): equal
    ignoring case, or an entry ending in ``*`` is a prefix of it (``*`` alone: any)."""
    for entry in allowed:
        if entry.lower() == subject.lower():
            return True
        if entry.endswith("*") and subject.startswith(entry[:-1]):
            return True
    return False


def same_namespace(subject: str, namespace: str) -> bool:
    """Whether ``subject`` is a ServiceAccount of ``namespace``."""
    return subject.startswith(f"{eventpolicy.SERVICE_ACCOUNT_SUBJECT}:{namespace}:")


_NO_SUBJECT: Final = "the token has no subject"


def decide(
    policies: Sequence[AppliedPolicy],
    mode: str,
    subject: str | None,
    namespace: str,
    event: CloudEvent,
) -> Decision:
    """Whether ``subject`` may post ``event`` to a receiver of ``namespace`` to which
    ``policies`` apply (``mode``: the default authorization mode, for none)."""
    if policies:
        return _by_policies(policies, subject, event)
    return _by_default_mode(mode, subject, namespace)


def _by_policies(
    policies: Sequence[AppliedPolicy], subject: str | None, event: CloudEvent
) -> Decision:
    names = ", ".join(p.name for p in policies)
    if subject is None:
        return Decision(
            False, f"{_NO_SUBJECT}; only the senders of event policies {names} are allowed"
        )
    filtered: list[str] = []
    for policy in policies:
        if not subject_matches(subject, policy.subjects):
            continue
        if policy.filter(event):
            return Decision(True, f"event policy {policy.name} allows {subject!r}", policy.name)
        filtered.append(policy.name)
    if filtered:
        return Decision(
            False,
            f"subject {subject!r} is allowed by event policies {', '.join(filtered)}, but the "
            "event does not pass their filters",
        )
    return Decision(False, f"subject {subject!r} is not allowed by event policies {names}")


def _by_default_mode(mode: str, subject: str | None, namespace: str) -> Decision:
    setting = f"{features.DEFAULT_AUTHORIZATION_MODE} is {mode}"
    if mode == features.ALLOW_ALL:
        return Decision(True, f"no event policy applies and {setting}")
    if mode == features.ALLOW_SAME_NAMESPACE:
        if subject is None:
            return Decision(False, f"no event policy applies, {setting} and {_NO_SUBJECT}")
        if same_namespace(subject, namespace):
            return Decision(True, f"no event policy applies and {setting}")
        return Decision(
            False,
            f"no event policy applies and {setting}, but subject {subject!r} is not a "
            f"service account of namespace {namespace!r}",
        )
    return Decision(False, f"no event policy applies and {setting}")
