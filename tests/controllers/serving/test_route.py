"""Routes of their own: traffic to named Revisions and Configurations, missing targets."""

from __future__ import annotations

from typing import Any

from .support import (
    BASE,
    CONFIGURATIONS,
    NS,
    REVISIONS,
    ROUTES,
    condition,
    is_ready,
    pod,
    put_pod,
    running_serving,
)


def route(traffic: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Route",
        "metadata": {"name": "r", "namespace": NS},
        "spec": {"traffic": traffic},
    }


def config(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Configuration",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"template": {"spec": {"containers": [{"image": "busybox", "command": ["true"]}]}}},
    }


async def test_route_is_not_ready_while_a_target_is_missing() -> None:
    async with running_serving() as s:
        await s.create(
            ROUTES,
            route(
                [
                    {"revisionName": "blue-00001", "percent": 50},
                    {"configurationName": "blue", "percent": 50, "tag": "latest"},
                ]
            ),
        )
        r = await s.wait(ROUTES, "r", lambda o: condition(o, "Ready")[0] == "False")
        assert r["status"]["url"] == f"{BASE}/serving/{NS}/r"
        assert r["status"]["address"] == {"url": f"{BASE}/serving/{NS}/r"}
        assert condition(r, "AllTrafficAssigned") == (
            "False",
            "RevisionMissing",
            'Revision "blue-00001" referenced in traffic not found.',
        )
        assert "traffic" not in r["status"]

        await s.create(CONFIGURATIONS, config("blue"))
        rev = await s.wait(REVISIONS, "blue-00001", lambda o: "status" in o)
        r = await s.wait(ROUTES, "r", lambda o: condition(o, "Ready")[0] == "Unknown")
        assert condition(r, "AllTrafficAssigned")[:2] == ("Unknown", "RevisionMissing")
        assert condition(r, "IngressReady")[:2] == ("Unknown", "IngressNotConfigured")

        await put_pod(s.store, pod(rev, 1, ready=True))
        r = await s.wait(ROUTES, "r", is_ready)
        assert r["status"]["traffic"] == [
            {"revisionName": "blue-00001", "latestRevision": False, "percent": 50},
            {
                "tag": "latest",
                "revisionName": "blue-00001",
                "latestRevision": True,
                "percent": 50,
                "url": f"{BASE}/serving/{NS}/latest-r",
            },
        ]
        assert r["status"]["observedGeneration"] == 1


async def test_route_to_a_missing_configuration() -> None:
    async with running_serving() as s:
        await s.create(ROUTES, route([{"configurationName": "nope"}]))
        r = await s.wait(ROUTES, "r", lambda o: condition(o, "Ready")[0] == "False")
        assert condition(r, "AllTrafficAssigned") == (
            "False",
            "ConfigurationMissing",
            'Configuration "nope" referenced in traffic not found.',
        )


async def test_route_keeps_its_traffic_when_a_revision_goes() -> None:
    async with running_serving() as s:
        await s.create(CONFIGURATIONS, config("green"))
        rev = await s.wait(REVISIONS, "green-00001", lambda o: "status" in o)
        await put_pod(s.store, pod(rev, 1, ready=True))
        await s.create(ROUTES, route([{"revisionName": "green-00001"}]))
        r = await s.wait(ROUTES, "r", is_ready)
        assert r["status"]["traffic"][0]["percent"] == 100

        def retarget(obj: dict[str, Any]) -> None:
            obj["spec"]["traffic"] = [{"revisionName": "green-00009"}]

        await s.update_spec(ROUTES, "r", retarget)
        r = await s.wait(ROUTES, "r", lambda o: condition(o, "Ready")[0] == "False")
        assert r["status"]["traffic"][0]["revisionName"] == "green-00001"
        assert condition(r, "IngressReady")[0] == "True"
