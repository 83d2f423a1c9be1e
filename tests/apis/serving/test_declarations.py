"""The serving kinds as declared models: the rules re-expressed on the declarations (Knative's
field mask of a Revision's pod spec, the Pod's rules across it, rules of templates and
traffic), the schema kubectl reads, and the status schemas the controllers' writes fit."""

from __future__ import annotations

import copy
from typing import Any

from kawa.apis import serving
from kawa.apis.serving import (
    configuration,
    configuration_status,
    resources,
    revision,
    revision_status,
    route,
    service,
)
from kawa.apis.serving.traffic import RouteTrafficTarget

from ..helpers import FakeClock, field_errors, status_errors

V1 = "serving.knative.dev/v1"
A = "autoscaling.knative.dev/"
CONTAINER = {"image": "busybox", "command": ["sleep", "1000"]}


def ksvc(template: dict[str, Any], traffic: list[Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": copy.deepcopy(template)}
    if traffic is not None:
        spec["traffic"] = copy.deepcopy(traffic)
    return {
        "apiVersion": V1,
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "ns"},
        "spec": spec,
    }


def rev(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "hello-00001", "namespace": "ns"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": V1, "kind": "Revision", "metadata": metadata, "spec": spec}


def route_obj(traffic: list[Any]) -> dict[str, Any]:
    return {
        "apiVersion": V1,
        "kind": "Route",
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": {"traffic": copy.deepcopy(traffic)},
    }


def test_a_revision_takes_the_pod_fields_knative_allows_and_refuses_the_others() -> None:
    allowed = {
        "containers": [CONTAINER],
        "runtimeClassName": "fast",
        "priorityClassName": "high",
        "dnsPolicy": "ClusterFirst",
        "topologySpreadConstraints": [{"maxSkew": 1}],
        "initContainers": [{"name": "setup", "image": "busybox"}],
        "responseStartTimeoutSeconds": 10,
        "idleTimeoutSeconds": 0,
    }
    parsed = revision.parse_revision(rev(allowed))
    assert parsed.spec.container.name == "user-container"
    assert parsed.spec.image == "busybox"
    assert parsed.spec.init_containers[0].name == "setup"
    refused = field_errors(
        lambda: revision.parse_revision(
            rev({**allowed, "restartPolicy": "Never", "nodeName": "n", "idleTimeoutSeconds": -1})
        )
    )
    assert set(refused) == {"spec.restartPolicy", "spec.nodeName", "spec.idleTimeoutSeconds"}
    assert refused["spec.restartPolicy"].startswith("unknown field; expected one of containers,")
    assert refused["spec.idleTimeoutSeconds"] == (
        "invalid value -1: must be greater than or equal to 0"
    )


def test_the_pod_rules_across_a_revision_spec_hold_once_its_types_do() -> None:
    """As Knative's webhook runs after the CRD's schema: the rules across the pod spec (the
    Pod's) are reported once its types hold; rules elsewhere are reported with type errors."""
    spec: dict[str, Any] = {
        "containers": [
            {**CONTAINER, "name": "main", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}
        ],
        "initContainers": [{"name": "main", "image": "busybox"}],
        "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}],
    }
    rules = {
        "spec.containers[0].volumeMounts[0].name": "not found: no volume 'data'",
        "spec.initContainers[0].name": "duplicate value 'main'",
        "spec.volumes[1].name": "duplicate value 'cache'",
    }
    assert field_errors(lambda: revision.parse_revision(rev(spec))) == rules
    bad_type = {
        "spec.dnsPolicy": "must be one of ClusterFirst, ClusterFirstWithHostNet, Default, None, "
        "got 'Sometimes'"
    }
    assert (
        field_errors(lambda: revision.parse_revision(rev({**spec, "dnsPolicy": "Sometimes"})))
        == bad_type
    )
    annotated = rev({**spec, "dnsPolicy": "Sometimes"}, {A + "window": "1s"})
    assert field_errors(lambda: revision.parse_revision(annotated)) == {
        **bad_type,
        f"metadata.annotations[{A}window]": "invalid value: '1s': expected 6s <= 1s <= 1h",
    }


def test_template_rules_are_reported_with_the_type_errors_of_the_container() -> None:
    template = {
        "metadata": {"name": "other-v1", "annotations": {A + "max-scale": "x"}},
        "spec": {"containers": [{**CONTAINER, "ports": "8080"}]},
    }
    expected = {
        "spec.template.spec.containers[0].ports": "expected a list, got a string",
        "spec.template.metadata.name": "a revision name must start with 'hello-', got 'other-v1'",
        f"spec.template.metadata.annotations[{A}max-scale]": "invalid value: 'x': expected a "
        "whole number of at least 0",
    }
    assert field_errors(lambda: service.parse_service(ksvc(template))) == expected
    config = dict(ksvc(template), kind="Configuration")
    assert field_errors(lambda: configuration.parse_configuration(config)) == expected


def test_revision_annotations_are_reported_with_the_type_errors_of_the_spec() -> None:
    raw = rev({"containers": [{"image": 5}]}, {A + "window": "1s"})
    assert field_errors(lambda: revision.parse_revision(raw)) == {
        "spec.containers[0].image": "expected a string, got a number (quote it in YAML)",
        f"metadata.annotations[{A}window]": "invalid value: '1s': expected 6s <= 1s <= 1h",
    }


def test_a_revision_spec_never_changes() -> None:
    old = rev({"containers": [CONTAINER]})
    new = rev({"containers": [CONTAINER], "timeoutSeconds": 30})
    assert field_errors(lambda: serving.REVISION.validate_update(old, new)) == {
        "spec": "immutable fields changed: a Revision's spec cannot change; change its "
        "Configuration or Service to create a new Revision"
    }
    # the defaults are part of the spec: writing them out changes nothing
    serving.REVISION.validate_update(old, serving.REVISION.default(old))


def test_route_traffic_rules() -> None:
    assert field_errors(
        lambda: configuration.parse_route(
            route_obj(
                [
                    {"revisionName": "a", "configurationName": "c", "percent": 50},
                    {"tag": "Old", "revisionName": "b", "percent": 50},
                ]
            )
        )
    ) == {
        "spec.traffic[0]": "expected exactly one of revisionName or configurationName, got both",
        "spec.traffic[1].tag": "invalid value 'Old': a lowercase RFC 1123 label must consist "
        "of lower case alphanumeric characters or '-', and must start and end with an "
        "alphanumeric character (e.g. 'my-name' or '123-abc')",
    }
    # the sum is checked only once every target is valid
    assert field_errors(
        lambda: configuration.parse_route(
            route_obj([{"revisionName": "a", "latestRevision": True, "percent": 10}])
        )
    ) == {
        "spec.traffic[0].revisionName": "may not be set when latestRevision is true",
        "spec.traffic[0].configurationName": "required when latestRevision is true",
    }
    assert field_errors(
        lambda: configuration.parse_route(
            route_obj([{"revisionName": "a", "percent": 10}, {"revisionName": "b"}])
        )
    ) == {"spec.traffic": "the percents of the targets sum to 10, want 100"}
    single = configuration.parse_route(route_obj([{"revisionName": "a"}]))
    assert single.spec.traffic == [
        RouteTrafficTarget(revision_name="a", latest_revision=False, percent=100)
    ]
    empty = configuration.parse_route(route_obj([]))
    assert empty.spec.traffic == []


def test_v1alpha1_shapes_kawa_cannot_convert_are_refused_on_the_admission_path() -> None:
    old = dict(ksvc({"spec": {"containers": [CONTAINER]}}), apiVersion=service.API_VERSION_V1ALPHA1)
    old["spec"] = {"manual": {}}
    assert field_errors(lambda: serving.SERVICE.to_version(old, V1)) == {
        "spec.manual": "not supported; use spec.template and spec.traffic"
    }


def test_schema_says_what_admission_checks() -> None:
    schema = serving.REVISION.schema
    assert schema is not None
    spec = schema["properties"]["spec"]
    assert spec["required"] == ["containers"]
    containers = spec["properties"]["containers"]
    assert (containers["minItems"], containers["maxItems"]) == (1, 1)
    assert "restartPolicy" not in spec["properties"]
    assert spec["properties"]["timeoutSeconds"] | {"description": ""} == {
        "type": "integer",
        "format": "int64",
        "minimum": 0,
        "maximum": 600,
        "default": 300,
        "description": "",
    }
    svc_schema = serving.SERVICE.schema
    assert svc_schema is not None
    traffic = svc_schema["properties"]["spec"]["properties"]["traffic"]["items"]["properties"]
    assert "configurationName" not in traffic
    route_schema = serving.ROUTE.schema
    assert route_schema is not None
    route_items = route_schema["properties"]["spec"]["properties"]["traffic"]["items"]
    assert "configurationName" in route_items["properties"]


def _fits(rk: Any, status: dict[str, Any]) -> None:
    assert status_errors(rk, status) == []


def test_status_schemas_accept_what_the_controllers_write() -> None:
    clock = FakeClock()
    ok = {"conditions": [{"type": "Ready", "status": "True"}]}
    resolution = route.resolve_traffic(
        [
            RouteTrafficTarget(configuration_name="c", latest_revision=True, percent=90),
            RouteTrafficTarget(
                tag="v1", revision_name="c-00001", latest_revision=False, percent=10
            ),
        ],
        configurations={"c": {"latestReadyRevisionName": "c-00002"}},
        revisions={"c-00001": ok, "c-00002": ok},
        base_url="http://k:1",
        namespace="ns",
        name="c",
    )
    route_status: dict[str, Any] = {"observedGeneration": 1}
    route.set_urls(route_status, "http://k:1", "ns", "c")
    route.mark_traffic(route_status, resolution, clock=clock)
    _fits(serving.ROUTE, route_status)

    config_status: dict[str, Any] = {}
    configuration_status.propagate_latest_created(config_status, "c-00002", ok, clock=clock)
    configuration_status.set_latest_ready(config_status, "c-00002")
    _fits(serving.CONFIGURATION, config_status)

    svc_status: dict[str, Any] = {}
    service.propagate_configuration_status(svc_status, config_status, clock=clock)
    service.propagate_route_status(svc_status, route_status, clock=clock)
    _fits(serving.SERVICE, svc_status)

    config = {
        "apiVersion": V1,
        "kind": "Configuration",
        "metadata": {"name": "c", "namespace": "ns", "uid": "u", "generation": 2},
        "spec": {"template": {"spec": {"containers": [CONTAINER]}}},
    }
    made = resources.make_revision(config)
    assert made["spec"]["containerConcurrency"] == 0
    revision.parse_revision(made)
    rev_status: dict[str, Any] = {}
    revision_status.compute_status(rev_status, made, [], image_problem=None, clock=clock)
    assert rev_status["containerStatuses"] == [{"name": "user-container", "imageDigest": "busybox"}]
    _fits(serving.REVISION, rev_status)
