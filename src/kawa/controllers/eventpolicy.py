"""The EventPolicy reconciler (Knative's ``pkg/reconciler/eventpolicy``).

``AuthenticationEnabled`` follows ``authentication-oidc`` (False, reason
``AuthOIDCFeatureNotEnabled``, while it is off: no policy is enforced then). With it on, each
``spec.from`` entry becomes an OIDC subject in ``status.from``: a ``sub`` as written, a ``ref``
the subject of the referenced object's identity,
``system:serviceaccount:<namespace>:<status.auth.serviceAccountName>`` (a Trigger's now,
sources' later). ``SubjectsResolved`` is False, naming the entry, while a referenced object
is missing or has no identity yet; every referenced object is tracked, so its change
reconciles the policy at once. Built by :func:`kawa.controllers.eventing.eventing_controllers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kawa.apis.conditions import Clock
from kawa.apis.eventing import EVENTPOLICY, eventpolicy
from kawa.apis.meta import set_observed_generation
from kawa.apis.registry import SCHEME
from kawa.errors import NotFoundError, ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FEATURES_KEY, FeatureFlags
from kawa.reconciler.loop import Controller
from kawa.reconciler.status import Reconciling, StatusReconciler, status_controller
from kawa.reconciler.tracker import Track
from kawa.store.base import Obj, ResourceKey, ResourceStore


class EventPolicyReconciler(StatusReconciler[eventpolicy.EventPolicy]):
    conditions = eventpolicy.EVENTPOLICY_CONDITIONS
    invalid_condition = eventpolicy.SUBJECTS_RESOLVED

    def __init__(
        self, store: ResourceStore, clock: Clock, recorder: EventRecorder | None = None
    ) -> None:
        super().__init__(store, clock, recorder)
        self._features = FeatureFlags(store)

    def parse(self, obj: Obj) -> eventpolicy.EventPolicy:
        return eventpolicy.parse_eventpolicy(obj)

    async def reconcile_kind(self, current: Reconciling[eventpolicy.EventPolicy]) -> None:
        policy, status, clock = current.spec, current.status, self.clock
        set_observed_generation(status, policy.generation)
        current.track(FEATURES_KEY)
        oidc = (await self._features.current()).oidc
        eventpolicy.mark_authentication(status, oidc, clock=clock)
        if not oidc:
            return
        subjects: list[str] = []
        problems: list[str] = []
        for i, sender in enumerate(policy.spec.from_):
            if sender.ref is None:
                subjects.append(sender.sub or "")
                continue
            found = await self._subjects(sender.ref, current.track)
            if isinstance(found, str):
                problems.append(f"from[{i}].ref: {found}")
            else:
                subjects.extend(found)
        if problems:
            eventpolicy.mark_subjects_not_resolved(status, "; ".join(problems), clock=clock)
        else:
            eventpolicy.mark_subjects_resolved(status, subjects, clock=clock)

    async def _subjects(
        self, ref: eventpolicy.EventPolicyFromReference, track: Track
    ) -> list[str] | str:
        """The subjects of the object ``ref`` names, or why there are none (yet)."""
        what = f"{ref.kind} {ref.namespace}/{ref.name}"
        try:
            kind = SCHEME.for_api_version_kind(ref.api_version, ref.kind)
        except ValidationError as err:
            return f"{what}: {err.errors[0].message}"
        key = ResourceKey(kind.resource, ref.namespace, ref.name)
        track(key)
        try:
            obj = await self.store.get(key)
        except NotFoundError:
            return f"{what} does not exist"
        names = _service_accounts(obj)
        if not names:
            return f"{what} has no OIDC identity yet (status.auth.serviceAccountName is not set)"
        return [eventpolicy.service_account_subject(ref.namespace, name) for name in names]


def _service_accounts(obj: Mapping[str, Any]) -> list[str]:
    """The ServiceAccounts of an object's ``status.auth`` (``serviceAccountName``, and the
    ``serviceAccountNames`` of objects with several senders)."""
    status = obj.get("status")
    auth = status.get("auth") if isinstance(status, Mapping) else None
    if not isinstance(auth, Mapping):
        return []
    names = auth.get("serviceAccountNames")
    found = [n for n in names if isinstance(n, str) and n] if isinstance(names, list) else []
    single = auth.get("serviceAccountName")
    if isinstance(single, str) and single:
        found.append(single)
    return found


def eventpolicy_controller(
    store: ResourceStore, clock: Clock, recorder: EventRecorder | None = None
) -> Controller:
    """The EventPolicy controller, ready to ``run()``."""
    return status_controller(
        "eventpolicy", EventPolicyReconciler(store, clock, recorder), EVENTPOLICY.resource
    )
