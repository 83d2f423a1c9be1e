"""Deleting a Service deletes its Configuration, Route, Revisions and their Pods (kawa's
garbage collector, through their ownerReferences)."""

from __future__ import annotations

from kawa.store import finalizers
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from .support import (
    CONFIGURATIONS,
    NS,
    REVISIONS,
    ROUTES,
    SERVICES,
    admit,
    is_ready,
    ksvc,
    pod,
    put_pod,
    running_serving,
)


async def test_deleting_a_service_deletes_its_chain() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc())
        await s.create(SERVICES, ksvc("other"))
        rev = await s.wait(REVISIONS, "hello-00001", lambda _: True)
        other = await s.wait(REVISIONS, "other-00001", lambda _: True)
        await put_pod(s.store, pod(rev, 1, ready=True))
        await put_pod(s.store, pod(other, 1, ready=True))
        stray = pod(rev, 2, ready=True)
        stray["metadata"]["ownerReferences"] = []
        await put_pod(s.store, stray)
        await s.wait(SERVICES, "hello", is_ready)

        await s.store.delete(ResourceKey(SERVICES, NS, "hello"))
        await s.wait_gone(CONFIGURATIONS, "hello")
        await s.wait_gone(ROUTES, "hello")
        await s.wait_gone(REVISIONS, "hello-00001")
        await s.wait_gone("pods", "hello-00001-deployment-0000000001")
        # Others and objects without a serving owner stay.
        await s.get(SERVICES, "other")
        await s.get(REVISIONS, "other-00001")
        await s.store.get(ResourceKey("pods", NS, "other-00001-deployment-0000000001"))
        await s.store.get(ResourceKey("pods", NS, "hello-00001-deployment-0000000002"))


async def test_orphans_left_while_kawa_was_down_are_collected() -> None:
    store = SqliteResourceStore(":memory:")
    revision = admit(
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Revision",
            "metadata": {
                "name": "gone-00001",
                "namespace": NS,
                "labels": {"serving.knative.dev/configuration": "gone"},
                "ownerReferences": [
                    {
                        "apiVersion": "serving.knative.dev/v1",
                        "kind": "Configuration",
                        "name": "gone",
                        "uid": "deleted-long-ago",
                        "controller": True,
                    }
                ],
            },
            "spec": {"containers": [{"image": "busybox", "command": ["true"]}]},
        }
    )
    rev = await store.create(ResourceKey(REVISIONS, NS, "gone-00001"), revision)
    await put_pod(store, pod(rev, 1, ready=True))
    async with running_serving(store) as s:
        await s.wait_gone(REVISIONS, "gone-00001")
        await s.wait_gone("pods", "gone-00001-deployment-0000000001")

        # A Pod naming a Revision of the same name but another uid is an orphan too.
        await s.create(SERVICES, ksvc())
        rev = await s.wait(REVISIONS, "hello-00001", lambda _: True)
        orphan = pod(rev, 1, ready=True)
        orphan["metadata"]["ownerReferences"][0]["uid"] = "not-the-revision"
        await put_pod(s.store, orphan)
        await s.wait_gone("pods", "hello-00001-deployment-0000000001")
        await s.get(REVISIONS, "hello-00001")


async def test_a_service_deleted_in_the_foreground_waits_for_its_chain() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc())
        rev = await s.wait(REVISIONS, "hello-00001", lambda _: True)
        await put_pod(s.store, pod(rev, 1, ready=True))
        await s.wait(SERVICES, "hello", is_ready)

        key = ResourceKey(SERVICES, NS, "hello")
        service = await s.store.get(key)
        service["metadata"]["finalizers"] = finalizers.for_propagation(
            service, finalizers.FOREGROUND_POLICY, None
        )
        await s.store.update(key, service)
        await s.store.delete(key)  # as the API server deletes with propagationPolicy Foreground
        # nothing is made again while the Service waits; it goes last: every level blocks
        await s.wait_gone(SERVICES, "hello")
        for resource in (CONFIGURATIONS, ROUTES, REVISIONS, "pods"):
            assert (await s.store.list(resource, NS)).items == [], resource
