"""The ``scale`` subresource of Deployments and ReplicaSets (autoscaling/v1 Scale): GET,
PUT (with optimistic concurrency) and PATCH set ``spec.replicas``; discovery lists it."""

from __future__ import annotations

from typing import Any

from .api_support import serving

APPS = "/apis/apps/v1/namespaces/default"


def deployment(name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


async def test_scale_subresource() -> None:
    async with serving() as api:
        status, _ = await api.call("POST", f"{APPS}/deployments", deployment())
        assert status == 201
        status, scale = await api.call("GET", f"{APPS}/deployments/web/scale")
        assert status == 200, scale
        assert scale["apiVersion"] == "autoscaling/v1"
        assert scale["kind"] == "Scale"
        assert scale["spec"] == {"replicas": 1}
        assert scale["status"] == {"replicas": 0, "selector": "app=web"}

        scale["spec"]["replicas"] = 3
        status, answer = await api.call("PUT", f"{APPS}/deployments/web/scale", scale)
        assert status == 200, answer
        assert answer["spec"]["replicas"] == 3
        status, stored = await api.call("GET", f"{APPS}/deployments/web")
        assert stored["spec"]["replicas"] == 3
        assert stored["metadata"]["generation"] == 2

        status, stale = await api.call("PUT", f"{APPS}/deployments/web/scale", scale)
        assert status == 409, stale  # the Scale named an older resourceVersion

        merge = {"Content-Type": "application/merge-patch+json"}
        status, answer = await api.call(
            "PATCH", f"{APPS}/deployments/web/scale", {"spec": {"replicas": 5}}, merge
        )
        assert status == 200, answer
        assert answer["spec"]["replicas"] == 5
        status, bad = await api.call(
            "PATCH", f"{APPS}/deployments/web/scale", {"spec": {"replicas": -1}}, merge
        )
        assert status == 422, bad
        assert bad["details"]["causes"][0]["field"] == "spec.replicas"

        status, missing = await api.call("GET", f"{APPS}/deployments/nope/scale")
        assert status == 404, missing


async def test_discovery_lists_the_scale_subresource() -> None:
    async with serving() as api:
        status, listed = await api.call("GET", "/apis/apps/v1")
        assert status == 200
        by_name = {r["name"]: r for r in listed["resources"]}
        assert by_name["deployments"]["shortNames"] == ["deploy"]
        assert by_name["replicasets"]["shortNames"] == ["rs"]
        scale = by_name["deployments/scale"]
        assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
        assert "replicasets/scale" in by_name
        assert "deployments/status" in by_name
