"""A real (in-memory) store, a fake clock and the Job and CronJob reconcilers over it; Pods
are finished by hand, as a kubelet would report them."""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from kawa.apis import batch, core
from kawa.apis.batch import job as job_api
from kawa.apis.conditions import format_time
from kawa.controllers.batch.cronjob import CronJobReconciler
from kawa.controllers.batch.job import JobReconciler
from kawa.reconciler.events import EventRecorder
from kawa.store import bookkeeping
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...apis.helpers import FakeClock

JOBS = batch.JOB.resource
CRONJOBS = batch.CRONJOB.resource
PODS = core.POD.resource
EVENTS = core.EVENT.resource


def job_obj(name: str = "hello", **spec: Any) -> dict[str, Any]:
    restart = spec.pop("restartPolicy", "Never")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                    "restartPolicy": restart,
                }
            },
            **spec,
        },
    }


def cronjob_obj(name: str = "tick", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {
                "metadata": {"labels": {"team": "a"}},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                            "restartPolicy": "OnFailure",
                        }
                    }
                },
            },
            **spec,
        },
    }


@dataclass
class Batch:
    store: SqliteResourceStore
    clock: FakeClock
    jobs: JobReconciler
    cronjobs: CronJobReconciler
    requeued: list[tuple[ResourceKey, float]] = field(default_factory=list)

    async def create_job(self, obj: dict[str, Any]) -> Obj:
        made = job_api.default_job(obj)
        name = made["metadata"]["name"]
        return await self.store.create(
            ResourceKey(JOBS, "default", name), made, uid=made["metadata"]["uid"]
        )

    async def create_cronjob(self, obj: dict[str, Any]) -> Obj:
        made = batch.CRONJOB.default(obj)
        key = ResourceKey(CRONJOBS, "default", made["metadata"]["name"])
        return await self.store.create(key, made)

    async def job(self, name: str = "hello") -> Obj:
        return await self.store.get(ResourceKey(JOBS, "default", name))

    async def sync(self, name: str = "hello") -> Obj:
        await self.jobs.reconcile(ResourceKey(JOBS, "default", name))
        return await self.job(name)

    async def sync_cronjob(self, name: str = "tick") -> Obj:
        await self.cronjobs.reconcile(ResourceKey(CRONJOBS, "default", name))
        return await self.store.get(ResourceKey(CRONJOBS, "default", name))

    async def pods(self, job: str = "hello") -> list[Obj]:
        listed = await self.store.list(PODS, "default")
        return [
            p for p in listed.items if p["metadata"]["labels"].get(job_api.JOB_NAME_LABEL) == job
        ]

    async def jobs_listed(self) -> list[Obj]:
        return (await self.store.list(JOBS, "default")).items

    async def finish(self, pod: Obj, phase: str, *, restarts: int = 0) -> None:
        """What the kubelet reports when the Pod's container ends (or restarted)."""
        key = ResourceKey(PODS, "default", pod["metadata"]["name"])
        pod = await self.store.get(key)
        status = copy.deepcopy(pod.get("status") or {})
        status["phase"] = phase
        state: dict[str, Any] = {
            "terminated": {
                "exitCode": 0 if phase == "Succeeded" else 1,
                "finishedAt": format_time(self.clock()),
            }
        }
        if phase == "Running":
            state = {"running": {"startedAt": format_time(self.clock())}}
        status["containerStatuses"] = [
            {"name": "c", "restartCount": restarts, "state": state, "ready": False}
        ]
        await self.store.update(key, dict(pod, status=status), status_only=True)

    async def events(self, name: str) -> list[tuple[str, str, str]]:
        listed = await self.store.list(EVENTS, "default")
        return [
            (e["type"], e["reason"], e["message"])
            for e in listed.items
            if e["involvedObject"]["name"] == name
        ]


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Batch]:
    store = SqliteResourceStore(":memory:")
    clock = FakeClock()
    # 30 s past a five-minute mark, and the store stamps creationTimestamp by the same clock:
    # when it stamped the real time, a CronJob created in the second before a mark had its
    # first Job due at once ("nothing before the first time" failed at 21:44:59 once)
    clock.now = datetime(2026, 5, 1, 12, 0, 30, tzinfo=UTC)
    monkeypatch.setattr(bookkeeping, "now", lambda: format_time(clock()))
    requeued: list[tuple[ResourceKey, float]] = []
    names = (f"p{i:04d}" for i in itertools.count())
    jobs = JobReconciler(
        store,
        clock,
        EventRecorder(store, "job-controller", clock=clock),
        lambda key, delay: requeued.append((key, delay)),
        token=lambda: next(names),
    )
    cronjobs = CronJobReconciler(
        store,
        clock,
        EventRecorder(store, "cronjob-controller", clock=clock),
        jobs.delete_job,
        lambda key, delay: requeued.append((key, delay)),
    )
    try:
        yield Batch(store, clock, jobs, cronjobs, requeued)
    finally:
        await store.close()


def condition(obj: Obj, type_: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c["type"] == type_:
            return dict(c)
    return None
