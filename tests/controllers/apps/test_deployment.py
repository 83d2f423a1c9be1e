"""The Deployment controller on a real store: ReplicaSets per template, revisions, rolling
updates within maxSurge/maxUnavailable, Recreate, history cleanup, pause, conditions."""

from __future__ import annotations

import asyncio
from typing import Any

from kawa.apis.apps.workload import POD_TEMPLATE_HASH, REVISION
from kawa.store.base import Obj

from ...waiting import eventually
from .support import DEPLOYMENTS, PODS, REPLICA_SETS, Apps, deployment, running_apps


def status_of(obj: Obj) -> dict[str, Any]:
    return obj.get("status") or {}


def condition(obj: Obj, type_: str) -> dict[str, Any]:
    return next((c for c in status_of(obj).get("conditions", []) if c["type"] == type_), {})


def rolled_out(replicas: int) -> Any:
    def check(obj: Obj) -> bool:
        status = status_of(obj)
        return (
            status.get("observedGeneration") == obj["metadata"]["generation"]
            and status.get("updatedReplicas") == replicas
            and status.get("replicas") == replicas
            and status.get("availableReplicas") == replicas
            and condition(obj, "Progressing").get("reason") == "NewReplicaSetAvailable"
        )

    return check


def set_image(image: str) -> Any:
    return lambda o: o["spec"]["template"]["spec"]["containers"][0].update(image=image)


async def sets(apps: Apps) -> dict[str, Obj]:
    return {rs["metadata"]["name"]: rs for rs in await apps.items(REPLICA_SETS)}


async def test_rollout_and_rolling_update() -> None:
    async with running_apps() as apps:
        d = await apps.create(
            DEPLOYMENTS,
            deployment(
                replicas=4, strategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
            ),
        )
        done = await apps.wait(DEPLOYMENTS, "web", rolled_out(4))
        assert condition(done, "Available")["reason"] == "MinimumReplicasAvailable"
        assert done["metadata"]["annotations"][REVISION] == "1"
        (first,) = (await sets(apps)).values()
        digest = first["metadata"]["labels"][POD_TEMPLATE_HASH]
        assert first["metadata"]["name"] == f"web-{digest}"
        assert first["spec"]["selector"]["matchLabels"] == {"app": "web", POD_TEMPLATE_HASH: digest}
        assert first["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
        assert first["metadata"]["annotations"][REVISION] == "1"

        # watch every ReplicaSet change: the bounds hold at every step
        seen: list[tuple[int, int]] = []

        async def observe() -> None:
            async for _ in apps.store.watch(REPLICA_SETS, "default"):
                listed = await apps.items(REPLICA_SETS)
                total = sum(rs["spec"]["replicas"] for rs in listed)
                available = sum(status_of(rs).get("availableReplicas", 0) for rs in listed)
                seen.append((total, available))

        watcher = asyncio.create_task(observe())
        await apps.change(DEPLOYMENTS, "web", set_image("alpine"))
        done = await apps.wait(DEPLOYMENTS, "web", rolled_out(4))
        watcher.cancel()
        assert done["metadata"]["annotations"][REVISION] == "2"
        listed = await sets(apps)
        assert len(listed) == 2
        old = listed[first["metadata"]["name"]]
        assert old["spec"]["replicas"] == 0
        assert seen
        assert all(total <= 5 for total, _ in seen), seen  # replicas + maxSurge
        events = {e["message"] for e in (await apps.store.list("events", "default")).items}
        assert any(m.startswith("Scaled down replica set web-") for m in events), events

        # back to the first template: the old ReplicaSet is the new one again, revision 3
        await apps.change(DEPLOYMENTS, "web", set_image("busybox"))
        done = await apps.wait(DEPLOYMENTS, "web", rolled_out(4))
        assert done["metadata"]["annotations"][REVISION] == "3"
        again = (await sets(apps))[first["metadata"]["name"]]
        assert again["metadata"]["annotations"][REVISION] == "3"
        assert again["spec"]["replicas"] == 4


async def test_recreate_and_history_limit() -> None:
    async with running_apps() as apps:
        await apps.create(
            DEPLOYMENTS,
            deployment(replicas=2, strategy={"type": "Recreate"}, revisionHistoryLimit=1),
        )
        await apps.wait(DEPLOYMENTS, "web", rolled_out(2))
        for image in ("alpine", "debian"):
            await apps.change(DEPLOYMENTS, "web", set_image(image))
            await apps.wait(DEPLOYMENTS, "web", rolled_out(2))

        async def trimmed() -> dict[str, Obj] | None:
            listed = await sets(apps)
            return listed if len(listed) == 2 else None

        listed = await eventually(trimmed)  # the current one and one old one
        revisions = sorted(rs["metadata"]["annotations"][REVISION] for rs in listed.values())
        assert revisions == ["2", "3"]


async def test_scale_and_pause() -> None:
    async with running_apps() as apps:
        await apps.create(DEPLOYMENTS, deployment(replicas=1))
        await apps.wait(DEPLOYMENTS, "web", rolled_out(1))
        await apps.change(DEPLOYMENTS, "web", lambda o: o["spec"].update(replicas=3))
        await apps.wait(DEPLOYMENTS, "web", rolled_out(3))
        await apps.change(DEPLOYMENTS, "web", lambda o: o["spec"].update(paused=True))
        paused = await apps.wait(
            DEPLOYMENTS,
            "web",
            lambda o: condition(o, "Progressing").get("reason") == "DeploymentPaused",
        )
        assert condition(paused, "Progressing")["status"] == "Unknown"
        await apps.change(DEPLOYMENTS, "web", set_image("alpine"))
        await apps.change(DEPLOYMENTS, "web", lambda o: o["spec"].update(replicas=2))
        await apps.wait(DEPLOYMENTS, "web", lambda o: status_of(o).get("replicas") == 2)
        assert len(await sets(apps)) == 1  # nothing rolled out while paused
        await apps.change(DEPLOYMENTS, "web", lambda o: o["spec"].update(paused=False))
        await apps.wait(DEPLOYMENTS, "web", rolled_out(2))
        assert len(await sets(apps)) == 2


async def test_pods_that_cannot_run_are_reported() -> None:
    async with running_apps() as apps:
        apps.ready = False
        apps.waiting_reason = "ImageNotRunnable"
        await apps.create(
            DEPLOYMENTS, deployment(image="example.com/app", progressDeadlineSeconds=1)
        )
        failed = await apps.wait(
            DEPLOYMENTS,
            "web",
            lambda o: condition(o, "Progressing").get("reason") == "ProgressDeadlineExceeded",
        )
        available = condition(failed, "Available")
        assert available["status"] == "False"
        assert available["reason"] == "MinimumReplicasUnavailable"
        assert "container c: ImageNotRunnable: no program" in available["message"]
        assert condition(failed, "Progressing")["status"] == "False"
        assert status_of(failed)["unavailableReplicas"] == 1
        assert len(await apps.items(PODS)) == 1


async def test_min_ready_seconds_follows_without_a_new_replicaset() -> None:
    async with running_apps() as apps:
        await apps.create(DEPLOYMENTS, deployment(replicas=1))
        await apps.wait(DEPLOYMENTS, "web", rolled_out(1))
        await apps.change(DEPLOYMENTS, "web", lambda o: o["spec"].update(minReadySeconds=1))

        async def followed() -> list[Obj] | None:
            listed = await apps.items(REPLICA_SETS)
            return listed if listed[0]["spec"].get("minReadySeconds") == 1 else None

        listed = await eventually(followed)
        assert len(listed) == 1
