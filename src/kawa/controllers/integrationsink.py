"""The IntegrationSink reconciler: the sink's address, whether kawa runs it, its EventPolicies.

An IntegrationSink with ``spec.log`` runs in kawa's own data plane (:mod:`kawa.integrationsink`),
not in a Deployment as Knative's does: its address is kawa's,
``<ingress base>/integrationsinks/<ns>/<name>`` (``Addressable``; with authentication-oidc its
audience, as every addressable's), and ``DeploymentReady`` (Knative's name) is True. An AWS
sink (``spec.aws.*``) keeps the address (its requests are answered 501) but
``DeploymentReady`` is False: reason ``AWSCredentialsMissing`` while its credentials Secret or
its endpoint is missing, else ``AWSNotSupported`` (kawa does not run AWS connectors).
``EventPoliciesReady`` and ``status.policies`` come from the EventPolicies of its namespace;
``CertificateReady`` is True (kawa's data plane serves https with its own certificate, when
transport-encryption asks for it). Built by :func:`integrationsink_controller` for
:mod:`kawa.leader`.
"""

from __future__ import annotations

from kawa.apis import core
from kawa.apis.conditions import Clock, system_clock
from kawa.apis.integration import INTEGRATIONSINK, aws
from kawa.apis.integration import integrationsink as api
from kawa.apis.meta import set_observed_generation
from kawa.errors import NotFoundError
from kawa.reconciler.addressable import AddressableReconciler, addressable_controller
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller
from kawa.reconciler.status import Reconciling
from kawa.store.base import Obj, ResourceKey, ResourceStore

PREFIX = "/integrationsinks/"
"""Where kawa's data plane serves IntegrationSinks (:data:`kawa.integrationsink.ROUTE`)."""


class IntegrationSinkReconciler(AddressableReconciler[api.IntegrationSink]):
    conditions = api.INTEGRATIONSINK_CONDITIONS
    invalid_condition = api.DEPLOYMENT_READY
    prefix = PREFIX
    api_version = api.API_VERSION
    kind = api.KIND

    def parse(self, obj: Obj) -> api.IntegrationSink:
        return api.parse_integrationsink(obj)

    async def reconcile_kind(self, current: Reconciling[api.IntegrationSink]) -> None:
        sink, status, clock = current.spec, current.status, self.clock
        namespace = current.key.namespace
        flags = await self.publish_address(current)
        connectors = sink.spec.aws
        if sink.spec.log is not None or connectors is None:
            self.conditions.mark_true(status, api.DEPLOYMENT_READY, clock=clock)
        else:
            secret = connectors.auth.secret_name if connectors.auth is not None else ""
            if secret:
                key = ResourceKey(core.SECRET.resource, namespace, secret)
                current.track(key)
                try:
                    await self.store.get(key)
                except NotFoundError:
                    secret = ""
            parts = connectors.parts()
            reason, message = aws.not_supported(
                ",".join(f"aws.{n}" for n, _ in parts),
                secret,
                next((p.uri_endpoint_override for _, p in parts), ""),
            )
            self.conditions.mark_false(status, api.DEPLOYMENT_READY, reason, message, clock=clock)
        self.conditions.mark_true(status, api.CERTIFICATE_READY, clock=clock)
        await self.mark_policies(current, flags)
        set_observed_generation(status, sink.generation)


def integrationsink_controller(
    store: ResourceStore,
    *,
    ingress_base_url: str,
    clock: Clock = system_clock,
    https_base_url: str = "",
    ca_certs: str = "",
) -> Controller:
    """The IntegrationSink controller, ready to ``run()``: reconciles a sink when it, its
    credentials Secret or an EventPolicy of its namespace changes."""
    recorder = EventRecorder(store, "integrationsink-controller", clock=clock)
    sinks = IntegrationSinkReconciler(
        store, ingress_base_url, clock, recorder, https_base_url=https_base_url, ca_certs=ca_certs
    )
    return addressable_controller("integrationsink", sinks, INTEGRATIONSINK.resource)
