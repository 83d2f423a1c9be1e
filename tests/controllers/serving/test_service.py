"""Service -> Configuration -> Revision -> Route with the real controllers on a real store."""

from __future__ import annotations

from typing import Any

from .support import (
    BASE,
    CONFIGURATIONS,
    NS,
    REVISIONS,
    ROUTES,
    SERVICES,
    admit,
    condition,
    is_ready,
    ksvc,
    pod,
    put_pod,
    running_serving,
)

URL = f"{BASE}/serving/{NS}/hello"


async def test_service_creates_its_chain_and_reports_kubectl_columns() -> None:
    async with running_serving() as s:
        svc = await s.create(SERVICES, ksvc())
        rev = await s.wait(REVISIONS, "hello-00001", lambda _: True)
        config = await s.get(CONFIGURATIONS, "hello")
        route = await s.get(ROUTES, "hello")
        owner = {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "name": "hello",
            "uid": svc["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert config["metadata"]["ownerReferences"] == [owner]
        assert route["metadata"]["ownerReferences"] == [owner]
        assert config["metadata"]["labels"]["serving.knative.dev/service"] == "hello"
        assert config["spec"]["template"] == svc["spec"]["template"]
        assert route["spec"]["traffic"] == [
            {"configurationName": "hello", "latestRevision": True, "percent": 100}
        ]
        labels = rev["metadata"]["labels"]
        assert labels["serving.knative.dev/configuration"] == "hello"
        assert labels["serving.knative.dev/configurationGeneration"] == "1"
        assert labels["serving.knative.dev/configurationUID"] == config["metadata"]["uid"]
        assert labels["serving.knative.dev/service"] == "hello"
        assert rev["spec"] == svc["spec"]["template"]["spec"]
        assert rev["metadata"]["ownerReferences"][0]["kind"] == "Configuration"

        # Not ready while no Pod is: the Route waits for a ready Revision.
        svc = await s.wait(
            SERVICES,
            "hello",
            lambda o: o.get("status", {}).get("latestCreatedRevisionName") == "hello-00001",
        )
        assert condition(svc, "Ready")[0] == "Unknown"
        route = await s.wait(ROUTES, "hello", lambda o: condition(o, "AllTrafficAssigned")[0] != "")
        assert route["status"]["url"] == URL
        assert condition(route, "AllTrafficAssigned") == (
            "Unknown",
            "RevisionMissing",
            'Configuration "hello" is waiting for a Revision to become ready.',
        )

        await put_pod(s.store, pod(rev, 1, ready=True))
        svc = await s.wait(SERVICES, "hello", is_ready)
        status = svc["status"]
        assert status["url"] == URL
        assert status["address"] == {"url": URL}
        assert status["latestCreatedRevisionName"] == "hello-00001"
        assert status["latestReadyRevisionName"] == "hello-00001"
        assert status["traffic"] == [
            {"revisionName": "hello-00001", "latestRevision": True, "percent": 100}
        ]
        assert status["observedGeneration"] == 1
        assert {c["type"] for c in status["conditions"]} == {
            "ConfigurationsReady",
            "RoutesReady",
            "Ready",
        }
        route = await s.get(ROUTES, "hello")
        assert condition(route, "CertificateProvisioned")[:2] == ("True", "TLSNotEnabled")
        assert condition(route, "IngressReady")[0] == "True"

        events = await s.events("hello")
        assert (
            "service-controller",
            "Normal",
            "Created",
            'Created Configuration "hello"',
        ) in events
        assert ("service-controller", "Normal", "Created", 'Created Route "hello"') in events
        assert (
            "configuration-controller",
            "Normal",
            "Created",
            'Created Revision "hello-00001"',
        ) in events
        assert (
            "configuration-controller",
            "Normal",
            "LatestReadyUpdate",
            'LatestReadyRevisionName updated to "hello-00001"',
        ) in events
        rev_events = await s.events("hello-00001")
        assert ("revision-controller", "Normal", "RevisionReady", "Revision is ready") in rev_events


async def test_one_revision_per_template_change() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc())
        rev1 = await s.wait(REVISIONS, "hello-00001", lambda _: True)
        await put_pod(s.store, pod(rev1, 1, ready=True))
        await s.wait(SERVICES, "hello", is_ready)

        # Metadata-only changes of the Service make no new Revision.
        def label(obj: dict[str, Any]) -> None:
            obj["metadata"]["labels"] = {"team": "a"}

        await s.update_spec(SERVICES, "hello", label)
        await s.wait(CONFIGURATIONS, "hello", lambda o: o["metadata"]["labels"].get("team") == "a")

        def env(obj: dict[str, Any]) -> None:
            obj["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]

        await s.update_spec(SERVICES, "hello", env)
        rev2 = await s.wait(REVISIONS, "hello-00002", lambda _: True)
        assert rev2["metadata"]["labels"]["serving.knative.dev/configurationGeneration"] == "2"
        assert rev2["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]
        svc = await s.wait(
            SERVICES,
            "hello",
            lambda o: (
                o["status"].get("latestCreatedRevisionName") == "hello-00002"
                and o["status"].get("observedGeneration") == 2
            ),
        )
        # Traffic stays on the ready Revision until the new one is ready.
        assert svc["status"]["latestReadyRevisionName"] == "hello-00001"
        assert svc["status"]["traffic"][0]["revisionName"] == "hello-00001"
        assert condition(svc, "Ready")[0] == "Unknown"

        await put_pod(s.store, pod(rev2, 1, ready=True))
        svc = await s.wait(
            SERVICES,
            "hello",
            lambda o: is_ready(o) and o["status"]["traffic"][0]["revisionName"] == "hello-00002",
        )
        assert svc["status"]["latestReadyRevisionName"] == "hello-00002"
        revisions = await s.store.list(REVISIONS, NS)
        assert sorted(r["metadata"]["name"] for r in revisions.items) == [
            "hello-00001",
            "hello-00002",
        ]


async def test_template_name_names_the_revision() -> None:
    async with running_serving() as s:
        template = {
            "metadata": {"name": "hello-v1", "annotations": {"a": "b"}, "labels": {"x": "y"}},
            "spec": {"containers": [{"image": "busybox", "command": ["true"]}]},
        }
        await s.create(SERVICES, ksvc(template=template))
        rev = await s.wait(REVISIONS, "hello-v1", lambda _: True)
        assert rev["metadata"]["annotations"] == {"a": "b"}
        assert rev["metadata"]["labels"]["x"] == "y"
        await s.wait(
            SERVICES,
            "hello",
            lambda o: o.get("status", {}).get("latestCreatedRevisionName") == "hello-v1",
        )


async def test_traffic_split_with_tags() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc())
        rev1 = await s.wait(REVISIONS, "hello-00001", lambda _: True)
        await put_pod(s.store, pod(rev1, 1, ready=True))
        await s.wait(SERVICES, "hello", is_ready)

        def split(obj: dict[str, Any]) -> None:
            obj["spec"]["template"]["spec"]["containers"][0]["args"] = ["v2"]
            obj["spec"]["traffic"] = [
                {"revisionName": "hello-00001", "percent": 80, "tag": "stable"},
                {"latestRevision": True, "percent": 20, "tag": "candidate"},
            ]

        await s.update_spec(SERVICES, "hello", split)
        rev2 = await s.wait(REVISIONS, "hello-00002", lambda _: True)
        route = await s.wait(ROUTES, "hello", lambda o: len(o["spec"]["traffic"]) == 2)
        assert route["spec"]["traffic"][1]["configurationName"] == "hello"
        await put_pod(s.store, pod(rev2, 1, ready=True))
        svc = await s.wait(
            SERVICES,
            "hello",
            lambda o: is_ready(o) and len(o["status"].get("traffic", [])) == 2,
        )
        assert svc["status"]["traffic"] == [
            {
                "tag": "stable",
                "revisionName": "hello-00001",
                "latestRevision": False,
                "percent": 80,
                "url": f"{BASE}/serving/{NS}/stable-hello",
            },
            {
                "tag": "candidate",
                "revisionName": "hello-00002",
                "latestRevision": True,
                "percent": 20,
                "url": f"{BASE}/serving/{NS}/candidate-hello",
            },
        ]
        assert svc["status"]["url"] == URL


EVENT_DISPLAY = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"


async def test_v1alpha1_service_makes_the_same_objects() -> None:
    seed = {
        "apiVersion": "serving.knative.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": "event-display", "namespace": NS},
        "spec": {"template": {"spec": {"containers": [{"image": EVENT_DISPLAY}]}}},
    }
    v1 = dict(seed, apiVersion="serving.knative.dev/v1")
    assert admit(seed) == admit(v1)
    legacy = {
        "apiVersion": "serving.knative.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": "legacy", "namespace": NS},
        "spec": {
            "runLatest": {
                "configuration": {
                    "revisionTemplate": {"spec": {"container": {"image": EVENT_DISPLAY}}}
                }
            }
        },
    }
    async with running_serving() as s:
        await s.create(SERVICES, seed)
        await s.create(SERVICES, legacy)
        rev = await s.wait(REVISIONS, "event-display-00001", lambda _: True)
        legacy_rev = await s.wait(REVISIONS, "legacy-00001", lambda _: True)
        assert rev["spec"] == legacy_rev["spec"]
        assert rev["spec"]["containers"][0]["name"] == "user-container"
        await put_pod(s.store, pod(rev, 1, ready=True))
        svc = await s.wait(SERVICES, "event-display", is_ready)
        assert svc["apiVersion"] == "serving.knative.dev/v1"
        assert svc["status"]["url"] == f"{BASE}/serving/{NS}/event-display"
        route = await s.get(ROUTES, "legacy")
        assert route["spec"]["traffic"] == [
            {"configurationName": "legacy", "latestRevision": True, "percent": 100}
        ]
