"""The data planes of kawa's addressables that are neither Brokers nor channels:
EventTransform, IntegrationSink, RequestReply and JobSink.

Each serves its kind's objects at its own path on the data-plane port (``/transforms/``,
``/integrationsinks/``, ``/requestreplies/``, ``/jobsinks/``), reads them from memory (an
informer each) and, with authentication-oidc on, checks its senders as broker ingress does
(:meth:`kawa.broker.oidc.DataPlaneIdentity.sender_check`); a RequestReply checks them for its
Broker too (:meth:`~kawa.broker.oidc.DataPlaneIdentity.subject_check`), as it puts their
requests into the Broker in process. :class:`AddressablePlanes` builds
the four for :mod:`kawa.runtime`, adds their routes to its application and runs them in its
task group.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from kawa.apis.eventing import eventtransform as transform_api
from kawa.apis.integration import integrationsink as sink_api
from kawa.apis.sinks import jobsink as jobsink_api
from kawa.broker.dataplane import BrokerDataPlane
from kawa.broker.oidc import DataPlaneIdentity
from kawa.delivery.sender import Dispatcher
from kawa.eventtransform import TransformPlane
from kawa.integrationsink import IntegrationSinkPlane
from kawa.jetstream import NatsOptions
from kawa.jobsink import JobSinkPlane
from kawa.requestreply import RequestReplyPlane
from kawa.store.base import ResourceStore


class AddressablePlanes:
    """The four planes (see the module docstring)."""

    def __init__(
        self,
        store: ResourceStore,
        dispatcher: Dispatcher,
        brokers: BrokerDataPlane,
        oidc: DataPlaneIdentity,
        *,
        max_event_size: int,
        nats: NatsOptions | None,
        identity: str,
    ) -> None:
        self._oidc = oidc
        self._brokers = brokers
        self.transforms = TransformPlane(store, dispatcher, max_event_size=max_event_size)
        self.sinks = IntegrationSinkPlane(store, max_event_size=max_event_size)
        self.replies = RequestReplyPlane(store, brokers, max_event_size, nats, identity)
        self.jobsinks = JobSinkPlane(store, max_event_size=max_event_size)

    def install(self, app: web.Application) -> None:
        """Add the planes' routes, each behind its kind's sender check."""
        check = self._oidc.sender_check
        transforms, sinks, jobsinks = self.transforms, self.sinks, self.jobsinks
        app.add_routes(
            transforms.routes(
                check(
                    "eventtransform",
                    transform_api.API_VERSION,
                    transform_api.KIND,
                    transforms.policies_of,
                )
            )
        )
        app.add_routes(
            sinks.routes(
                check("integrationsink", sink_api.API_VERSION, sink_api.KIND, sinks.policies_of)
            )
        )
        broker_check = self._oidc.subject_check("Broker", self._brokers.policies_of)
        app.add_routes(self.replies.routes(check, broker_check))
        app.add_routes(
            jobsinks.routes(
                check("jobsink", jobsink_api.API_VERSION, jobsink_api.KIND, jobsinks.policies_of)
            )
        )

    def start(self, group: asyncio.TaskGroup) -> None:
        """Run the four planes in ``group`` until it ends."""
        group.create_task(self.transforms.run(), name="eventtransform-dataplane")
        group.create_task(self.sinks.run(), name="integrationsink-dataplane")
        group.create_task(self.replies.run(), name="requestreply-dataplane")
        group.create_task(self.jobsinks.run(), name="jobsink-dataplane")
