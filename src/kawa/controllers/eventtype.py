"""The EventType reconciler (Knative's ``pkg/reconciler/eventtype``): the event registry's
entries say whether what they describe is there.

``ReferenceExists`` (and so ``Ready``) is True when the object ``spec.reference`` names (in the
EventType's namespace unless the reference says another) exists, False with reason
``ResourceDoesNotExist`` while it does not, and True with reason ``ReferenceNotSet`` for an
EventType without a reference. The referenced object is tracked, found or not: its creation or
deletion reconciles the EventType at once. A reference to a kind kawa does not serve cannot
exist here: False. Built by :func:`kawa.controllers.eventing.eventing_controllers`; the
EventTypes kawa creates itself come from :mod:`kawa.dispatch.eventtypes`.
"""

from __future__ import annotations

from kawa.apis.eventing import EVENTTYPE, eventtype
from kawa.apis.meta import set_observed_generation
from kawa.apis.registry import SCHEME
from kawa.errors import NotFoundError, ValidationError
from kawa.reconciler.loop import Controller
from kawa.reconciler.status import Reconciling, StatusReconciler, status_controller
from kawa.store.base import Obj, ResourceKey


class EventTypeReconciler(StatusReconciler[eventtype.EventType]):
    conditions = eventtype.EVENTTYPE_CONDITIONS
    invalid_condition = eventtype.REFERENCE_EXISTS

    def parse(self, obj: Obj) -> eventtype.EventType:
        return eventtype.parse_eventtype(obj)

    async def reconcile_kind(self, current: Reconciling[eventtype.EventType]) -> None:
        event_type, status, clock = current.spec, current.status, self.clock
        set_observed_generation(status, event_type.generation)
        reference = event_type.spec.reference
        if reference is None:
            eventtype.mark_reference_not_set(status, clock=clock)
            return
        try:
            kind = SCHEME.for_api_version_kind(reference.api_version, reference.kind)
        except ValidationError:
            kind = None
        if kind is None:
            eventtype.mark_reference_does_not_exist(status, clock=clock)
            return
        namespace = reference.namespace or event_type.namespace
        key = ResourceKey(kind.resource, namespace if kind.namespaced else "", reference.name)
        current.track(key)
        try:
            await self.store.get(key)
        except NotFoundError:
            eventtype.mark_reference_does_not_exist(status, clock=clock)
            return
        eventtype.mark_reference_exists(status, clock=clock)


def eventtype_controller(reconciler: EventTypeReconciler) -> Controller:
    """The EventType controller, ready to ``run()``."""
    return status_controller("eventtype", reconciler, EVENTTYPE.resource)
