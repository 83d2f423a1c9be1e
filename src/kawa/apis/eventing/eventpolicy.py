"""The EventPolicy kind (eventing.knative.dev/v1alpha1), declared once.

An EventPolicy says who may send events to addressables of its namespace (Knative's
authorization, with ``authentication-oidc`` enabled):

* ``spec.to`` -- the receivers it applies to: a ``ref`` (apiVersion, kind, name) or a
  ``selector`` (apiVersion, kind and a label selector); empty: every addressable of the
  namespace;
* ``spec.from`` -- the senders it allows: a ``ref`` to an object with an OIDC identity
  (``status.auth.serviceAccountName``; its namespace defaults to the policy's) or a ``sub``,
  an OIDC subject where ``*`` may only end it (a prefix);
* ``spec.filters`` -- Knative's SubscriptionsAPIFilter dialects (a Trigger's ``filters``): an
  event passes only when all match.

The status lists the resolved subjects in ``status.from``; ``Ready`` derives from
``AuthenticationEnabled`` and ``SubjectsResolved`` (Knative's conditions). :func:`applies_to`
says whether a policy applies to a receiver (Knative's ``GetEventPoliciesForResource``);
:func:`mark_event_policies` sets a receiver's ``status.policies`` and ``EventPoliciesReady``.
Declared in :mod:`kawa.apis.eventing`; reconciled by :mod:`kawa.controllers.eventpolicy`,
read by the receivers' reconcilers and the ingress authorization
(:mod:`kawa.dispatch.eventpolicies`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Final

from kawa.apis import duck, features
from kawa.apis.conditions import Clock, ConditionSet, get_condition
from kawa.apis.eventing import trigger_filters
from kawa.apis.eventing.trigger_filters import SubscriptionsAPIFilter
from kawa.apis.label_selector import LabelSelector
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.types import Text
from kawa.errors import FieldError

GROUP: Final = "eventing.knative.dev"
API_VERSION: Final = "eventing.knative.dev/v1alpha1"
KIND: Final = "EventPolicy"

# Condition types (Knative's names).
AUTHENTICATION_ENABLED: Final = "AuthenticationEnabled"
SUBJECTS_RESOLVED: Final = "SubjectsResolved"
EVENTPOLICY_CONDITIONS: Final = ConditionSet((AUTHENTICATION_ENABLED, SUBJECTS_RESOLVED))

SERVICE_ACCOUNT_SUBJECT: Final = "system:serviceaccount"
"""The prefix of a Kubernetes ServiceAccount's OIDC subject
(``system:serviceaccount:<namespace>:<name>``)."""

_REF_NAME: Final = "Name of the referent."
_REF_KIND: Final = "Kind of the referent."
_REF_API_VERSION: Final = "API version of the referent."


class EventPolicyToReference(Model):
    """A receiver the policy applies to, by name (in the policy's namespace)."""

    api_version: Annotated[Text, doc(_REF_API_VERSION)]
    kind: Annotated[Text, doc(_REF_KIND)]
    name: Annotated[Text, doc(_REF_NAME)]


class EventPolicySelector(LabelSelector):
    """Receivers the policy applies to, by kind and labels (in the policy's namespace)."""

    api_version: Annotated[Text, doc("API version of the selected objects.")]
    kind: Annotated[Text, doc("Kind of the selected objects.")]


class EventPolicySpecTo(Model):
    """One receiver, or a group of receivers, the policy applies to: ref or selector."""

    ref: Annotated[
        EventPolicyToReference | None, doc("Contains the direct reference to a target.")
    ] = None
    selector: Annotated[
        EventPolicySelector | None, doc("Contains a selector to group targets.")
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        yield from _one_of(self.ref is not None, self.selector is not None, "ref", "selector")


class EventPolicyFromReference(Model):
    """An object whose OIDC identity may send (its ``status.auth.serviceAccountName``)."""

    api_version: Annotated[Text, doc(_REF_API_VERSION)]
    kind: Annotated[Text, doc(_REF_KIND)]
    name: Annotated[Text, doc(_REF_NAME)]
    namespace: Annotated[
        str,
        doc(
            "Namespace of the referent; defaults to the namespace of the EventPolicy "
            "holding the reference."
        ),
    ] = ""

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        if not data.get("namespace"):
            data["namespace"] = ctx.namespace


class EventPolicySpecFrom(Model):
    """One sender the policy allows: ref or sub."""

    ref: Annotated[
        EventPolicyFromReference | None,
        doc("A direct reference to a resource which is allowed to send events to the target."),
    ] = None
    sub: Annotated[
        str | None,
        doc(
            "The OIDC identity (subject) allowed to send events to the target; a '*' at the "
            "end matches any suffix."
        ),
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        yield from _one_of(self.ref is not None, bool(self.sub), "ref", "sub")
        if self.sub and "*" in self.sub[:-1]:
            yield FieldError(
                "sub", f"invalid value {self.sub!r}: '*' is only allowed as the last character"
            )


class EventPolicySpec(Model):
    """The desired state of the EventPolicy."""

    to: Annotated[
        list[EventPolicySpecTo],
        doc(
            "The resources this policy applies to, in the policy's namespace; empty: every "
            "addressable of the namespace."
        ),
    ] = []
    from_: Annotated[
        list[EventPolicySpecFrom],
        doc(
            "The sources or OIDC identities allowed to send events to the targets (.spec.to).",
            alias="from",
        ),
    ] = []
    filters: Annotated[
        list[SubscriptionsAPIFilter],
        doc(
            "Filters an event must all pass to be accepted (SubscriptionsAPIFilter dialects); "
            "none: every event."
        ),
    ] = []

    def check(self, ctx: Context) -> Iterable[FieldError]:
        return trigger_filters.depth_errors(self.filters, "filters")


class EventPolicy(KubeObject):
    """An EventPolicy allows senders (OIDC identities) to send events to addressables of its
    namespace (Brokers, Channels, sinks)."""

    spec: Annotated[EventPolicySpec, doc("The desired state of the EventPolicy.")] = (
        EventPolicySpec()
    )


class EventPolicyStatus(duck.Status):
    """The observed state of the EventPolicy."""

    from_: Annotated[
        list[str] | None,
        doc("The resolved OIDC identities of .spec.from.", alias="from"),
    ] = None


def _one_of(first: bool, second: bool, a: str, b: str) -> Iterable[FieldError]:
    if first and second:
        yield FieldError("", f"expected exactly one of {a} or {b}, got both")
    elif not first and not second:
        yield FieldError("", f"expected exactly one of {a} or {b}, got neither")


def parse_eventpolicy(obj: Mapping[str, Any]) -> EventPolicy:
    """Validate an EventPolicy dict (defaults applied to a copy) and return it typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem with its field path."""
    return parse_object(EventPolicy, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


# -- which receivers a policy applies to ------------------------------------------------------


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _same_kind(api_version: str, kind: str, target_api_version: str, target_kind: str) -> bool:
    """Same group and kind, any version (Knative compares them ignoring case)."""
    return (
        _group(api_version).lower() == _group(target_api_version).lower()
        and kind.lower() == target_kind.lower()
    )


def applies_to(
    policy: EventPolicy, api_version: str, kind: str, name: str, labels: Mapping[str, str]
) -> bool:
    """Whether ``policy`` applies to the receiver ``kind`` ``name`` (of ``api_version``, with
    ``labels``) of the policy's namespace: an empty ``spec.to`` applies to every one; a
    ``ref`` names it (group, kind and name); a ``selector`` selects its group and kind and
    its labels."""
    if not policy.spec.to:
        return True
    for to in policy.spec.to:
        ref, selector = to.ref, to.selector
        if (
            ref is not None
            and _same_kind(ref.api_version, ref.kind, api_version, kind)
            and ref.name.lower() == name.lower()
        ):
            return True
        if (
            selector is not None
            and _same_kind(selector.api_version, selector.kind, api_version, kind)
            and selector.matches(labels)
        ):
            return True
    return False


# -- status --------------------------------------------------------------------------------


def service_account_subject(namespace: str, name: str) -> str:
    """The OIDC subject of ServiceAccount ``namespace/name``."""
    return f"{SERVICE_ACCOUNT_SUBJECT}:{namespace}:{name}"


OIDC_NOT_ENABLED: Final = "AuthOIDCFeatureNotEnabled"
SUBJECTS_NOT_RESOLVED: Final = "SubjectsNotResolved"


def mark_authentication(status: dict[str, Any], oidc: bool, *, clock: Clock) -> None:
    """``AuthenticationEnabled``: True with authentication-oidc on; False (reason
    ``AuthOIDCFeatureNotEnabled``) when off, and then the subjects are not resolved."""
    if oidc:
        EVENTPOLICY_CONDITIONS.mark_true(status, AUTHENTICATION_ENABLED, clock=clock)
        return
    EVENTPOLICY_CONDITIONS.mark_false(
        status,
        AUTHENTICATION_ENABLED,
        OIDC_NOT_ENABLED,
        f'Feature "{features.AUTHENTICATION_OIDC}" must be enabled (knative-eventing/'
        f"{features.CONFIG_MAP}) for EventPolicies to take effect",
        clock=clock,
    )
    EVENTPOLICY_CONDITIONS.mark_unknown(
        status,
        SUBJECTS_RESOLVED,
        OIDC_NOT_ENABLED,
        f'subjects are resolved once "{features.AUTHENTICATION_OIDC}" is enabled',
        clock=clock,
    )
    status.pop("from", None)


def mark_subjects_resolved(
    status: dict[str, Any], subjects: Sequence[str], *, clock: Clock
) -> None:
    """Every sender resolved: ``status.from`` lists their subjects, ``SubjectsResolved``
    True."""
    status["from"] = list(subjects)
    EVENTPOLICY_CONDITIONS.mark_true(status, SUBJECTS_RESOLVED, clock=clock)


def mark_subjects_not_resolved(status: dict[str, Any], message: str, *, clock: Clock) -> None:
    """A ``from.ref`` has no identity (yet): ``SubjectsResolved`` False, no ``status.from``."""
    status.pop("from", None)
    EVENTPOLICY_CONDITIONS.mark_false(
        status, SUBJECTS_RESOLVED, SUBJECTS_NOT_RESOLVED, message, clock=clock
    )


def subjects_of(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The resolved subjects of a stored EventPolicy (its ``status.from``)."""
    status = obj.get("status")
    found = status.get("from") if isinstance(status, Mapping) else None
    if not isinstance(found, list):
        return ()
    return tuple(s for s in found if isinstance(s, str))


def is_ready(obj: Mapping[str, Any]) -> bool:
    """Whether a stored EventPolicy is Ready."""
    status = obj.get("status")
    ready = get_condition(status if isinstance(status, Mapping) else {}, "Ready")
    return ready is not None and ready.is_true


# -- a receiver's status: status.policies and EventPoliciesReady ------------------------------

EVENT_POLICIES_READY: Final = duck.EVENT_POLICIES_READY


def mark_event_policies(
    conditions: ConditionSet,
    status: dict[str, Any],
    applying: Sequence[tuple[str, bool]],
    flags: features.Features,
    *,
    clock: Clock,
) -> None:
    """A receiver's ``status.policies`` and ``EventPoliciesReady`` from the EventPolicies that
    apply to it (``(name, ready)``), as Knative's: the Ready ones are listed; the condition
    is True when all are Ready, False naming those that are not; with none, True with
    reason ``DefaultAuthorizationMode`` naming the mode. With authentication-oidc off no
    policy is enforced: nothing is listed and the condition is True with reason
    ``OIDCDisabled``."""
    if not flags.oidc:
        status.pop("policies", None)
        conditions.mark_true(
            status,
            EVENT_POLICIES_READY,
            "OIDCDisabled",
            f'Feature "{features.AUTHENTICATION_OIDC}" must be enabled to support Authorization',
            clock=clock,
        )
        return
    ready = sorted(name for name, is_ready_ in applying if is_ready_)
    not_ready = sorted(name for name, is_ready_ in applying if not is_ready_)
    if ready:
        status["policies"] = [{"apiVersion": API_VERSION, "name": name} for name in ready]
    else:
        status.pop("policies", None)
    if not_ready:
        conditions.mark_false(
            status,
            EVENT_POLICIES_READY,
            "EventPoliciesNotReady",
            f"event policies {', '.join(not_ready)} are not ready",
            clock=clock,
        )
    elif ready:
        conditions.mark_true(status, EVENT_POLICIES_READY, clock=clock)
    else:
        conditions.mark_true(
            status,
            EVENT_POLICIES_READY,
            "DefaultAuthorizationMode",
            f'Default authz mode is "{flags.authorization_mode}"',
            clock=clock,
        )
