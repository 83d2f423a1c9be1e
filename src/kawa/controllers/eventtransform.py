"""The EventTransform reconciler: the transform's address, its sink and its EventPolicies.

An EventTransform runs in kawa's own data plane (:mod:`kawa.eventtransform`), not in a
Deployment as Knative's does: its address is kawa's, ``<ingress base>/transforms/<ns>/<name>``
(``Addressable``; with authentication-oidc its audience, as every addressable's). Its
expressions were parsed at admission; its ``spec.sink`` is resolved into
``status.sinkUri`` / ``sinkAudience``: ``TransformationReady`` is True once both hold (False
while the sink cannot be resolved, saying why). ``EventPoliciesReady`` and ``status.policies``
come from the EventPolicies of its namespace (:mod:`kawa.reconciler.eventpolicies`); a change
of one reconciles it again, as does a change of its sink. Built by
:func:`eventtransform_controller` for :mod:`kawa.leader`.
"""

from __future__ import annotations

from kawa.apis.conditions import Clock, system_clock
from kawa.apis.eventing import EVENTTRANSFORM
from kawa.apis.eventing import eventtransform as et_api
from kawa.apis.meta import set_observed_generation
from kawa.reconciler.addressable import AddressableReconciler, addressable_controller
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller
from kawa.reconciler.oidc_accounts import reconcile_identity
from kawa.reconciler.resolver import Unresolvable, resolve_address
from kawa.reconciler.status import Reconciling
from kawa.store.base import Obj, ResourceStore

PREFIX = "/transforms/"
"""Where kawa's data plane serves EventTransforms (:data:`kawa.eventtransform.ROUTE`)."""


class EventTransformReconciler(AddressableReconciler[et_api.EventTransform]):
    conditions = et_api.EVENTTRANSFORM_CONDITIONS
    invalid_condition = et_api.TRANSFORMATION_READY
    prefix = PREFIX
    api_version = et_api.API_VERSION
    kind = et_api.KIND

    def parse(self, obj: Obj) -> et_api.EventTransform:
        return et_api.parse_eventtransform(obj)

    async def reconcile_kind(self, current: Reconciling[et_api.EventTransform]) -> None:
        transform, status, clock = current.spec, current.status, self.clock
        flags = await self.publish_address(current)
        sink = transform.spec.sink
        if sink is None:
            et_api.mark_sink_resolved(status, None, None, clock=clock)
        else:
            try:
                address = await resolve_address(self.store, sink, track=current.track)
            except Unresolvable as err:
                et_api.mark_sink_unresolved(status, err.reason, err.message, clock=clock)
            else:
                et_api.mark_sink_resolved(
                    status, address.url, address.audience, clock=clock, ca_certs=address.ca_certs
                )
        # the identity its deliveries to the sink present (authentication-oidc)
        await reconcile_identity(
            self.store,
            self._features,
            self.conditions,
            current,
            api_version=et_api.API_VERSION,
            kind=et_api.KIND,
            clock=clock,
        )
        await self.mark_policies(current, flags)
        set_observed_generation(status, transform.generation)


def eventtransform_controller(
    store: ResourceStore,
    *,
    ingress_base_url: str,
    clock: Clock = system_clock,
    https_base_url: str = "",
    ca_certs: str = "",
) -> Controller:
    """The EventTransform controller, ready to ``run()``: reconciles a transform when it, its
    sink or an EventPolicy of its namespace changes."""
    recorder = EventRecorder(store, "eventtransform-controller", clock=clock)
    transforms = EventTransformReconciler(
        store, ingress_base_url, clock, recorder, https_base_url=https_base_url, ca_certs=ca_certs
    )
    return addressable_controller("eventtransform", transforms, EVENTTRANSFORM.resource)
