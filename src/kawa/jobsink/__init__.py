"""The JobSink data plane: every event a JobSink takes becomes a Secret and a Job.

Knative runs one ``job-sink`` Deployment for all JobSinks; kawa serves them on its
data-plane port at ``/jobsinks/<namespace>/<name>`` (the address the reconciler,
:mod:`kawa.controllers.jobsink`, publishes): :mod:`.live` keeps every JobSink from an
informer, :mod:`.jobs` makes an event's Secret and Job (pure), :mod:`.handler` answers the
POSTs and the status GETs. The Jobs are kawa's ordinary ``batch/v1`` Jobs
(:mod:`kawa.controllers.batch`), their Pods run by its kubelet. :class:`JobSinkPlane` puts
them together for :mod:`kawa.runtime`.
"""

from __future__ import annotations

from aiohttp import web

from kawa.dispatch.ingress import Authorize
from kawa.jobsink.handler import ROUTE, JobSinkHandler
from kawa.jobsink.live import LiveJobSinks
from kawa.store.base import ResourceStore

__all__ = ["ROUTE", "JobSinkHandler", "JobSinkPlane", "LiveJobSinks"]


class JobSinkPlane:
    """Every JobSink, served: :meth:`routes` go into kawa's data-plane application and
    :meth:`run` follows the JobSinks until cancelled."""

    def __init__(self, store: ResourceStore, *, max_event_size: int) -> None:
        self.sinks = LiveJobSinks(store)
        self._store = store
        self._max = max_event_size

    def policies_of(self, namespace: str, name: str) -> tuple[str, ...]:
        """The EventPolicies that apply to JobSink ``namespace/name``."""
        return self.sinks.policies_of(namespace, name)

    def routes(self, authorize: Authorize | None = None) -> list[web.RouteDef]:
        handler = JobSinkHandler(
            self.sinks, self._store, max_event_size=self._max, authorize=authorize
        )
        return handler.routes()

    async def run(self) -> None:
        await self.sinks.run()
