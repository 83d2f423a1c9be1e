"""The JobSink reconciler: the sink's address, its Jobs' selector and its EventPolicies.

A JobSink is served by kawa's own data plane (:mod:`kawa.jobsink`), not by Knative's
``job-sink`` Deployment: its address is kawa's, ``<ingress base>/jobsinks/<ns>/<name>``
(``Addressable``; with authentication-oidc its audience, as every addressable's; with
transport-encryption its https address too). ``status.job.selector`` names the label of
every Job it starts (``sinks.knative.dev/job-sink-name=<name>``, Knative's).
``EventPoliciesReady`` and ``status.policies`` come from the EventPolicies of its namespace
(:mod:`kawa.reconciler.eventpolicies`); a change of one reconciles it again. ``Ready``
follows both conditions (Knative's ``JobSinkCondSet``). Built by :func:`jobsink_controller`
for :mod:`kawa.leader`.
"""

from __future__ import annotations

from kawa.apis import duck
from kawa.apis.conditions import Clock, system_clock
from kawa.apis.meta import set_observed_generation
from kawa.apis.sinks import JOBSINK
from kawa.apis.sinks import jobsink as js_api
from kawa.reconciler.addressable import AddressableReconciler, addressable_controller
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller
from kawa.reconciler.status import Reconciling
from kawa.store.base import Obj, ResourceStore

PREFIX = "/jobsinks/"
"""Where kawa's data plane serves JobSinks (:data:`kawa.jobsink.ROUTE`)."""


class JobSinkReconciler(AddressableReconciler[js_api.JobSink]):
    conditions = js_api.JOBSINK_CONDITIONS
    invalid_condition = duck.ADDRESSABLE
    prefix = PREFIX
    api_version = js_api.API_VERSION
    kind = js_api.KIND

    def parse(self, obj: Obj) -> js_api.JobSink:
        return js_api.parse_jobsink(obj)

    async def reconcile_kind(self, current: Reconciling[js_api.JobSink]) -> None:
        sink, status = current.spec, current.status
        name = current.key.name
        flags = await self.publish_address(current)
        status["job"] = {"selector": js_api.job_selector(name)}
        await self.mark_policies(current, flags)
        set_observed_generation(status, sink.generation)


def jobsink_controller(
    store: ResourceStore,
    *,
    ingress_base_url: str,
    clock: Clock = system_clock,
    https_base_url: str = "",
    ca_certs: str = "",
) -> Controller:
    """The JobSink controller, ready to ``run()``: reconciles a JobSink when it or an
    EventPolicy of its namespace changes."""
    recorder = EventRecorder(store, "jobsink-controller", clock=clock)
    sinks = JobSinkReconciler(
        store, ingress_base_url, clock, recorder, https_base_url=https_base_url, ca_certs=ca_certs
    )
    return addressable_controller("jobsink", sinks, JOBSINK.resource)
