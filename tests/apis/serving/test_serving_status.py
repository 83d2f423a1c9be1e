"""The pure parts of the serving control plane: names, child objects, traffic resolution
and the conditions of Service, Configuration, Revision and Route."""

from __future__ import annotations

from typing import Any

from kawa.apis.conditions import get_condition
from kawa.apis.serving import configuration_status, resources, revision_status, route, service
from kawa.apis.serving.traffic import RouteTrafficTarget

from ..helpers import FakeClock

V1 = "serving.knative.dev/v1"


def cond(status: dict[str, Any], type_: str) -> tuple[str, str, str]:
    found = get_condition(status, type_)
    assert found is not None, type_
    return (found.status, found.reason, found.message)


def ready(name: str, generation: int, ok: bool = True) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {"serving.knative.dev/configurationGeneration": str(generation)},
        },
        "status": {"conditions": [{"type": "Ready", "status": "True" if ok else "False"}]},
    }


def test_revision_names() -> None:
    assert resources.revision_name("hello", 1) == "hello-00001"
    assert resources.revision_name("hello", 123456) == "hello-123456"
    assert resources.revision_name("hello", 2, "hello-v2") == "hello-v2"
    long = "a" * 60
    name = resources.revision_name(long, 7)
    assert len(name) == 63
    assert name.endswith("-00007")
    assert name != resources.revision_name("a" * 61, 7)


def test_service_children() -> None:
    svc: dict[str, Any] = {
        "apiVersion": V1,
        "kind": "Service",
        "metadata": {
            "name": "s",
            "namespace": "ns",
            "uid": "u1",
            "labels": {"team": "a"},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "note": "x",
            },
        },
        "spec": {
            "template": {"spec": {"containers": [{"image": "busybox"}]}},
            "traffic": [
                {"revisionName": "s-00001", "percent": 10, "tag": "old"},
                {"percent": 90},
            ],
        },
    }
    config = resources.make_configuration(svc)
    assert config["metadata"]["labels"] == {
        "team": "a",
        "serving.knative.dev/service": "s",
        "serving.knative.dev/serviceUID": "u1",
    }
    assert config["metadata"]["annotations"] == {"note": "x"}
    assert config["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert config["spec"] == {"template": svc["spec"]["template"]}
    assert resources.make_route(svc)["spec"]["traffic"] == [
        {"revisionName": "s-00001", "percent": 10, "tag": "old", "latestRevision": False},
        {"percent": 90, "latestRevision": True, "configurationName": "s"},
    ]
    config["metadata"]["uid"] = "u2"
    config["metadata"]["generation"] = 3
    rev = resources.make_revision(config)
    assert rev["metadata"]["name"] == "s-00003"
    assert rev["metadata"]["labels"] == {
        "serving.knative.dev/configuration": "s",
        "serving.knative.dev/configurationGeneration": "3",
        "serving.knative.dev/configurationUID": "u2",
        "serving.knative.dev/service": "s",
        "serving.knative.dev/serviceUID": "u1",
    }
    assert rev["spec"]["containers"][0]["name"] == "user-container"
    assert rev["spec"]["timeoutSeconds"] == 300
    assert resources.is_controlled_by(rev, config)
    assert not resources.is_controlled_by(rev, svc)


def test_traffic_resolution() -> None:
    targets = [
        RouteTrafficTarget(configuration_name="c", latest_revision=True, percent=60),
        RouteTrafficTarget(tag="v1", revision_name="c-00001", latest_revision=False, percent=40),
    ]
    ok = {"conditions": [{"type": "Ready", "status": "True"}]}
    resolution = route.resolve_traffic(
        targets,
        configurations={"c": {"latestReadyRevisionName": "c-00002"}},
        revisions={"c-00001": ok, "c-00002": ok},
        base_url="http://k:1/",
        namespace="ns",
        name="r",
    )
    assert resolution.problem is None
    assert resolution.traffic == [
        {"revisionName": "c-00002", "latestRevision": True, "percent": 60},
        {
            "tag": "v1",
            "revisionName": "c-00001",
            "latestRevision": False,
            "percent": 40,
            "url": "http://k:1/serving/ns/v1-r",
        },
    ]
    # A failure wins over a target that is only pending.
    pending = route.resolve_traffic(
        targets,
        configurations={"c": {}},
        revisions={"c-00001": {"conditions": [{"type": "Ready", "status": "False"}]}},
        base_url="http://k:1",
        namespace="ns",
        name="r",
    )
    assert pending.problem == route.TrafficProblem(
        "RevisionMissing", 'Revision "c-00001" failed to become ready.', True
    )
    status: dict[str, Any] = {}
    clock = FakeClock()
    route.set_urls(status, "http://k:1", "ns", "r")
    route.mark_traffic(status, pending, clock=clock)
    assert status["url"] == "http://k:1/serving/ns/r"
    assert cond(status, "Ready")[:2] == ("False", "RevisionMissing")
    assert cond(status, "IngressReady")[:2] == ("Unknown", "IngressNotConfigured")
    assert "traffic" not in status
    route.mark_traffic(status, resolution, clock=clock)
    assert cond(status, "Ready")[0] == "True"
    assert status["traffic"] == resolution.traffic
    deleted = route.resolve_traffic(
        targets[:1],
        configurations={"c": {"latestReadyRevisionName": "c-00002"}},
        revisions={},
        base_url="",
        namespace="ns",
        name="r",
    )
    assert deleted.problem is not None
    assert deleted.problem.message == 'Revision "c-00002" referenced in traffic not found.'
    failed_config = route.resolve_traffic(
        targets[:1],
        configurations={"c": {"conditions": [{"type": "Ready", "status": "False"}]}},
        revisions={},
        base_url="",
        namespace="ns",
        name="r",
    )
    assert failed_config.problem == route.TrafficProblem(
        "RevisionMissing", 'Configuration "c" does not have any ready Revision.', True
    )


def test_latest_ready_only_moves_forward() -> None:
    revs = [ready("c-00001", 1), ready("c-00002", 2, ok=False), ready("c-00003", 3, ok=False)]
    assert configuration_status.latest_ready_revision(revs, "") == "c-00001"
    revs[0] = ready("c-00001", 1, ok=False)
    assert configuration_status.latest_ready_revision(revs, "c-00001") == "c-00001"
    revs[2] = ready("c-00003", 3)
    assert configuration_status.latest_ready_revision(revs, "c-00001") == "c-00003"
    assert configuration_status.latest_ready_revision(revs[:2], "gone") == ""


def test_configuration_ready_follows_latest_created() -> None:
    status: dict[str, Any] = {}
    clock = FakeClock()
    failed = {"conditions": [{"type": "Ready", "status": "False", "message": "boom"}]}
    configuration_status.propagate_latest_created(status, "c-00002", failed, clock=clock)
    assert status["latestCreatedRevisionName"] == "c-00002"
    assert cond(status, "Ready") == (
        "False",
        "RevisionFailed",
        'Revision "c-00002" failed with message: boom.',
    )
    configuration_status.propagate_latest_created(status, "c-00003", {}, clock=clock)
    assert cond(status, "Ready")[0] == "Unknown"


def pod(ready: bool, **container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "user-container", **container}],
        },
    }


REV = {
    "metadata": {"name": "r"},
    "spec": {"containers": [{"name": "user-container", "image": "i"}]},
}


def test_revision_status_from_pods() -> None:
    clock = FakeClock()
    status: dict[str, Any] = {}
    revision_status.compute_status(status, REV, [], image_problem=None, clock=clock)
    assert cond(status, "Ready")[:2] == ("Unknown", "Deploying")
    assert cond(status, "Active")[0] == "Unknown"
    revision_status.compute_status(status, REV, [pod(True)], image_problem=None, clock=clock)
    assert cond(status, "Ready")[0] == "True"
    assert status["actualReplicas"] == 1
    revision_status.compute_status(status, REV, [], image_problem=None, clock=clock)
    assert cond(status, "Ready")[0] == "True"
    assert cond(status, "Active")[:2] == ("False", "NoTraffic")
    # Severity Info: Active does not take part in Ready.
    assert get_condition(status, "Active") is not None
    assert next(c for c in status["conditions"] if c["type"] == "Active")["severity"] == "Info"
    bad_config = pod(
        False, state={"waiting": {"reason": "CreateContainerConfigError", "message": "no cm"}}
    )
    revision_status.compute_status(status, REV, [bad_config], image_problem=None, clock=clock)
    assert cond(status, "ContainerHealthy") == ("False", "CreateContainerConfigError", "no cm")
    died = pod(False, state={"terminated": {"exitCode": 1, "message": "oops\n"}})
    revision_status.compute_status(status, REV, [died], image_problem=None, clock=clock)
    assert cond(status, "Ready") == ("False", "ExitCode1", "Container failed with: oops")
    revision_status.compute_status(status, REV, [], image_problem="map it", clock=clock)
    assert cond(status, "ContainerHealthy") == ("False", "ImageNotRunnable", "map it")
    assert cond(status, "ResourcesAvailable")[0] == "True"


def test_a_process_lost_with_a_previous_kawa_is_not_a_crash() -> None:
    """After a kawa restart the kubelet reports the old run's container as terminated with
    ContainerStatusUnknown (137) and starts it again: the Revision stays healthy."""
    clock = FakeClock()
    status: dict[str, Any] = {}
    revision_status.compute_status(status, REV, [pod(True)], image_problem=None, clock=clock)
    lost = {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown", "message": "x"}}
    restarted = pod(True, state={"running": {}}, lastState=lost)
    revision_status.compute_status(status, REV, [restarted], image_problem=None, clock=clock)
    assert cond(status, "ContainerHealthy")[0] == "True"
    assert cond(status, "Ready")[0] == "True"
    assert revision_status.container_failure(pod(False, state=lost), "user-container") is None


def test_revision_desired_scale_annotation() -> None:
    rev = dict(
        REV, metadata={"name": "r", "annotations": {revision_status.DESIRED_SCALE_ANNOTATION: "3"}}
    )
    status: dict[str, Any] = {}
    revision_status.compute_status(status, rev, [pod(True)], image_problem=None, clock=FakeClock())
    assert status["desiredReplicas"] == 3


def test_service_conditions() -> None:
    clock = FakeClock()
    status: dict[str, Any] = {}
    service.mark_not_owned(status, "Route", "s", clock=clock)
    assert cond(status, "RoutesReady") == (
        "False",
        "NotOwned",
        'There is an existing Route "s" that we do not own.',
    )
    service.mark_not_reconciled(status, "Configuration", clock=clock)
    assert cond(status, "ConfigurationsReady")[1] == "OutOfDate"
    route_status = {
        "conditions": [{"type": "Ready", "status": "True"}],
        "traffic": [{"revisionName": "s-00001", "latestRevision": True, "percent": 100}],
    }
    service.propagate_route_status(status, route_status, clock=clock)
    service.check_traffic_migrated(status, route_status, "s-00002", clock=clock)
    assert cond(status, "RoutesReady")[:2] == ("Unknown", "TrafficNotMigrated")
