"""Revision status from the Pods a kubelet reports on, and from the image catalog."""

from __future__ import annotations

from kawa.store.base import ResourceKey

from .support import (
    NS,
    REVISIONS,
    SERVICES,
    condition,
    is_ready,
    ksvc,
    pod,
    put_pod,
    running_serving,
)

IMAGE = "example.com/team/app:1.0"


async def test_revision_follows_its_pods() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc())
        rev = await s.wait(REVISIONS, "hello-00001", lambda o: "status" in o)
        assert condition(rev, "ResourcesAvailable")[:2] == ("Unknown", "Deploying")

        # A Pod that is starting: still deploying.
        starting = pod(rev, 1, ready=False, state={"waiting": {"reason": "ContainerCreating"}})
        await put_pod(s.store, starting)
        rev = await s.wait(
            REVISIONS, "hello-00001", lambda o: o["status"].get("desiredReplicas") == 1
        )
        assert condition(rev, "Ready")[0] == "Unknown"
        assert rev["status"]["actualReplicas"] == 0

        # Ready.
        await put_pod(s.store, pod(rev, 1, ready=True))
        await put_pod(s.store, pod(rev, 2, ready=True))
        rev = await s.wait(
            REVISIONS, "hello-00001", lambda o: o["status"].get("actualReplicas") == 2
        )
        assert is_ready(rev)
        assert condition(rev, "Active")[0] == "True"
        assert condition(rev, "ContainerHealthy")[0] == "True"
        assert rev["status"]["desiredReplicas"] == 2
        assert rev["status"]["containerStatuses"] == [
            {"name": "user-container", "imageDigest": "busybox"}
        ]
        assert rev["status"]["observedGeneration"] == 1

        # Scaled to zero: not active, still ready.
        for i in (1, 2):
            await s.store.delete(ResourceKey("pods", NS, f"hello-00001-deployment-{i:010d}"))
        rev = await s.wait(REVISIONS, "hello-00001", lambda o: condition(o, "Active")[0] == "False")
        assert condition(rev, "Active") == (
            "False",
            "NoTraffic",
            "The target is not receiving traffic.",
        )
        assert is_ready(rev)
        assert condition(rev, "ResourcesAvailable")[0] == "True"
        assert rev["status"]["actualReplicas"] == 0
        assert rev["status"]["desiredReplicas"] == 0
        svc = await s.get(SERVICES, "hello")
        assert is_ready(svc)


async def test_crash_loop_makes_the_container_unhealthy() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc())
        rev = await s.wait(REVISIONS, "hello-00001", lambda o: "status" in o)
        crashing = pod(
            rev,
            1,
            ready=False,
            state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}},
            last_state={
                "terminated": {
                    "exitCode": 3,
                    "reason": "Error",
                    "startedAt": "2024-05-01T12:00:00Z",
                    "finishedAt": "2024-05-01T12:00:01Z",
                }
            },
            restarts=2,
        )
        await put_pod(s.store, crashing)
        rev = await s.wait(
            REVISIONS, "hello-00001", lambda o: condition(o, "ContainerHealthy")[0] == "False"
        )
        _, reason, message = condition(rev, "ContainerHealthy")
        assert reason == "ExitCode3"
        assert message.startswith("Container failed with: Error (exit code 3)")
        assert (
            "kubectl logs hello-00001-deployment-0000000001 -c user-container --previous" in message
        )
        assert condition(rev, "Ready")[:2] == ("False", "ExitCode3")
        svc = await s.wait(SERVICES, "hello", lambda o: condition(o, "Ready")[0] == "False")
        assert condition(svc, "Ready")[1] == "RevisionFailed"
        assert (
            'Revision "hello-00001" failed with message: Container failed with'
            in condition(svc, "Ready")[2]
        )
        events = await s.events("hello-00001")
        assert any(e[2] == "RevisionNotReady" and e[1] == "Warning" for e in events)
        config_events = await s.events("hello")
        assert (
            "configuration-controller",
            "Warning",
            "LatestCreatedFailed",
            'Latest created revision "hello-00001" has failed',
        ) in config_events

        # Recovered: a Pod becomes ready.
        await put_pod(s.store, pod(rev, 1, ready=True, restarts=3))
        await s.wait(SERVICES, "hello", is_ready)


async def test_crash_loop_without_exit_code() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc())
        rev = await s.wait(REVISIONS, "hello-00001", lambda o: "status" in o)
        waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting"}}
        await put_pod(s.store, pod(rev, 1, ready=False, state=waiting))
        rev = await s.wait(REVISIONS, "hello-00001", lambda o: condition(o, "Ready")[0] == "False")
        assert condition(rev, "ContainerHealthy") == (
            "False",
            "CrashLoopBackOff",
            "back-off 20s restarting",
        )


async def test_image_not_runnable_until_mapped() -> None:
    async with running_serving() as s:
        template = {"spec": {"containers": [{"image": IMAGE}]}}
        await s.create(SERVICES, ksvc(template=template))
        svc = await s.wait(SERVICES, "hello", lambda o: condition(o, "Ready")[0] == "False")
        _, reason, message = condition(svc, "Ready")
        assert reason == "RevisionFailed"
        assert 'no program for image "example.com/team/app:1.0"' in message
        assert "config-kawa-images" in message
        rev = await s.get(REVISIONS, "hello-00001")
        assert condition(rev, "Ready")[1] == "ImageNotRunnable"
        assert condition(rev, "ContainerHealthy")[1] == "ImageNotRunnable"

        # Mapping the image in the catalog makes it runnable: the Revision deploys.
        await s.store.create(
            ResourceKey("configmaps", "knative-serving", "config-kawa-images"),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "config-kawa-images", "namespace": "knative-serving"},
                "data": {"example.com.team.app": "python3 -m http.server"},
            },
        )
        rev = await s.wait(
            REVISIONS, "hello-00001", lambda o: condition(o, "Ready")[0] == "Unknown"
        )
        assert condition(rev, "ContainerHealthy")[:2] == ("Unknown", "Deploying")
        await put_pod(s.store, pod(rev, 1, ready=True))
        await s.wait(SERVICES, "hello", is_ready)
