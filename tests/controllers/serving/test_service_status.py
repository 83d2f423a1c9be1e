"""A Service's status shows why its Route is not ready (real controllers, real store)."""

from __future__ import annotations

from typing import Any

from .support import (
    REVISIONS,
    ROUTES,
    SERVICES,
    condition,
    is_ready,
    ksvc,
    pod,
    put_pod,
    running_serving,
)


async def test_service_shows_the_routes_missing_revision() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc())
        rev1 = await s.wait(REVISIONS, "hello-00001", lambda _: True)
        await put_pod(s.store, pod(rev1, 1, ready=True))
        await s.wait(SERVICES, "hello", is_ready)

        def split(obj: dict[str, Any]) -> None:
            obj["spec"]["template"]["spec"]["containers"][0]["args"] = ["v2"]
            obj["spec"]["traffic"] = [
                {"latestRevision": True, "percent": 50},
                {"revisionName": "hello-00009", "percent": 50},
            ]

        await s.update_spec(SERVICES, "hello", split)
        rev2 = await s.wait(REVISIONS, "hello-00002", lambda _: True)
        await put_pod(s.store, pod(rev2, 1, ready=True))
        missing = 'Revision "hello-00009" referenced in traffic not found.'
        route = await s.wait(ROUTES, "hello", lambda o: condition(o, "Ready")[0] == "False")
        assert condition(route, "Ready") == ("False", "RevisionMissing", missing)
        # The latest Revision is ready; the Route still fails: the Service says why (it used
        # to show Unknown/TrafficNotMigrated, hiding the Route's reason).
        svc = await s.wait(
            SERVICES,
            "hello",
            lambda o: (
                o["status"].get("latestReadyRevisionName") == "hello-00002"
                and condition(o, "Ready")[0] != "True"
            ),
        )
        svc = await s.wait(SERVICES, "hello", lambda o: condition(o, "Ready")[0] == "False")
        assert condition(svc, "RoutesReady") == ("False", "RevisionMissing", missing)
        assert condition(svc, "Ready") == ("False", "RevisionMissing", missing)
