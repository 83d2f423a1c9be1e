"""The JobSink endpoints on the data-plane port.

``POST /jobsinks/{namespace}/{name}`` takes one CloudEvent (binary or structured mode; a
batch is refused with 400) and answers ``202 Accepted`` with ``Location``: the path of its
Job's status (:func:`kawa.jobsink.jobs.location`), once the Secret holding the event and the
Job exist (:mod:`kawa.jobsink.jobs` makes them; the Job controller and the kubelet run
it). An event whose Job exists already (the same ``source`` and ``id``) makes nothing new
and gets the same answer, as Knative's JobSink does.

``GET`` on the Location answers as Knative's does: ``202`` (with ``Location``) while the Job
runs, ``200`` (``Reason: Complete``) once it completed, ``400`` (``Reason: Failed``) once
it failed; ``404`` when there is no such Job.

Other answers, each a JSON body ``{"error": ..., "reason": ...}``: 404 for an unknown
JobSink (Knative: 400), 400 for a request that is no CloudEvent, 413 above the size limit,
405 for other methods, 500 when the Job cannot be made from ``spec.job`` (saying why) or
the store fails. With authentication-oidc the sender of a POST is checked as at broker
ingress (401, 403); a GET is not (Knative checks its token too).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

from aiohttp import web

from kawa.apis import core
from kawa.apis.batch import JOB
from kawa.apis.batch import job as job_api
from kawa.cloudevents.event import CloudEvent
from kawa.dispatch import endpoint
from kawa.dispatch.ingress import Authorize
from kawa.errors import (
    AlreadyExistsError,
    ConflictError,
    KawaError,
    NotFoundError,
    ValidationError,
)
from kawa.jobsink import jobs
from kawa.jobsink.live import LiveJobSinks
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

ROUTE: Final = "/jobsinks/{namespace}/{name}"
STATUS_ROUTE: Final = "/jobsinks/{namespace}/{name}/sources/{rest:.+}"


def _accepted(where: str) -> web.Response:
    return web.Response(status=202, headers={"Location": where})


class JobSinkHandler:
    """The endpoints' aiohttp handlers over :class:`LiveJobSinks` and the store."""

    def __init__(
        self,
        sinks: LiveJobSinks,
        store: ResourceStore,
        *,
        max_event_size: int,
        authorize: Authorize | None = None,
    ) -> None:
        self._sinks = sinks
        self._store = store
        self._max = max_event_size
        self._authorize = authorize

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(STATUS_ROUTE, self.status, allow_head=False),
            *endpoint.post_routes(ROUTE, self.post),
        ]

    async def post(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        sink = self._sinks.get(namespace, name)
        if sink is None:
            return endpoint.problem(404, f"JobSink {namespace}/{name} does not exist", "NotFound")
        event = await endpoint.read_event(request, self._max, "a JobSink")
        if isinstance(event, web.Response):
            return event
        refused = await endpoint.check_sender(self._authorize, namespace, name, request, event)
        if refused is not None:
            return refused
        try:
            await self._start(sink, event)
        except ValidationError as err:
            return endpoint.problem(
                500, f"JobSink {namespace}/{name}: its Job cannot be made: {err}", "InvalidJob"
            )
        except KawaError as err:
            log.warning("JobSink %s/%s: no Job for event %s: %s", namespace, name, event.id, err)
            return endpoint.problem(500, f"JobSink {namespace}/{name}: {err}", "JobNotCreated")
        return _accepted(jobs.location(namespace, name, event.source, event.id))

    async def _start(self, sink: Obj, event: CloudEvent) -> None:
        """The event's Secret and Job, unless its Job exists already."""
        job = job_api.default_job(jobs.event_job(sink, event))
        metadata = job["metadata"]
        key = ResourceKey(JOB.resource, metadata["namespace"], metadata["name"])
        try:
            await self._store.get(key)
        except NotFoundError:
            pass
        else:
            return  # the same event again: Knative makes no second Job
        job_api.parse_job(job)
        # the Job first, then its Secret owned by it (deleted with it): both are stored before
        # the 202; the Job's Pod waits for the Secret as Kubernetes' kubelet does
        with contextlib.suppress(AlreadyExistsError):  # the same event at the same time
            await self._store.create(key, job, uid=metadata["uid"])
        secret = jobs.event_secret(sink, event, job)
        secret_key = ResourceKey(core.SECRET.resource, key.namespace, key.name)
        try:
            await self._store.create(secret_key, secret)
        except AlreadyExistsError:
            # written for this event before: its Job since deleted (the garbage collector
            # would take it), or a Job made at the same time; it belongs to this Job now
            found = await self._store.get(secret_key)
            owners = secret["metadata"]["ownerReferences"]
            if (found.get("metadata") or {}).get("ownerReferences") != owners:
                metadata = dict(found.get("metadata") or {}, ownerReferences=owners)
                with contextlib.suppress(ConflictError, NotFoundError):
                    await self._store.update(secret_key, dict(found, metadata=metadata))

    async def status(self, request: web.Request) -> web.Response:
        found = jobs.parse_location(request.raw_path)
        if found is None:
            return endpoint.problem(
                404,
                "not a JobSink status path: expected "
                "/jobsinks/<namespace>/<name>/sources/<source>/ids/<id>",
                "NotFound",
            )
        namespace, name, source, event_id = found
        job_name = jobs.job_name(name, source, event_id)
        try:
            job = await self._store.get(ResourceKey(JOB.resource, namespace, job_name))
        except NotFoundError:
            return endpoint.problem(
                404,
                f"JobSink {namespace}/{name} has no Job for the event {event_id!r} from {source!r}",
                "NotFound",
            )
        except KawaError as err:
            return endpoint.problem(500, str(err))
        if job_api.condition_true(job, job_api.FAILED):
            return web.Response(status=400, headers={"Reason": "Failed"})
        if job_api.condition_true(job, job_api.COMPLETE):
            return web.Response(status=200, headers={"Reason": "Complete"})
        return _accepted(jobs.location(namespace, name, source, event_id))
