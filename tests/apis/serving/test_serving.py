from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis import serving
from kawa.apis.serving import configuration, revision, service
from kawa.apis.serving.traffic import RouteTrafficTarget, TrafficTarget
from kawa.apiserver.tables import json_path

from ..helpers import FakeClock, field_errors

V1 = "serving.knative.dev/v1"
V1A1 = "serving.knative.dev/v1alpha1"
TEMPLATE = {"spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go"}]}}


def ksvc(spec: Any, api_version: str = V1) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "ns"},
        "spec": copy.deepcopy(spec),
    }


def test_service_defaults() -> None:
    raw = ksvc({"template": TEMPLATE})
    out = serving.SERVICE.default(raw)
    assert out["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]
    assert out["spec"]["template"]["spec"]["containers"][0]["name"] == "user-container"
    assert out["spec"]["template"]["spec"]["timeoutSeconds"] == 300
    assert "traffic" not in raw["spec"]
    s = service.parse_service(raw)
    template = s.spec.template.spec
    assert template.image == "ghcr.io/knative/helloworld-go"
    assert (template.container_concurrency, template.timeout_seconds) == (0, 300)
    assert s.spec.traffic == [TrafficTarget(latest_revision=True, percent=100)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, {"spec.template": "required field is missing"}),
        (
            {"template": {"spec": {"containers": [{"image": "a"}, {"image": "b"}]}}},
            {"spec.template.spec.containers": "expected exactly one container, got 2"},
        ),
        (
            {"template": {"spec": {"containers": [{"name": "c"}]}}},
            {"spec.template.spec.containers[0].image": "required field is missing"},
        ),
        (
            {
                "template": {
                    "spec": {
                        **TEMPLATE["spec"],
                        "containerConcurrency": 1001,
                        "timeoutSeconds": 601,
                    }
                }
            },
            {
                "spec.template.spec.containerConcurrency": "invalid value 1001: must be between 0 and 1000, inclusive",  # noqa: E501
                "spec.template.spec.timeoutSeconds": "invalid value 601: must be between 0 and 600, inclusive",  # noqa: E501
            },
        ),
        (
            {"template": {"metadata": {"name": "other-v1"}, **TEMPLATE}},
            {
                "spec.template.metadata.name": "a revision name must start with 'hello-', got 'other-v1'"  # noqa: E501
            },
        ),
        (
            {
                "template": TEMPLATE,
                "traffic": [
                    {"revisionName": "hello-1", "percent": 50},
                    {"latestRevision": True, "percent": 40},
                ],
            },
            {"spec.traffic": "the percents of the targets sum to 90, want 100"},
        ),
        (
            {
                "template": TEMPLATE,
                "traffic": [{"revisionName": "hello-1", "latestRevision": True, "percent": 100}],
            },
            {"spec.traffic[0].revisionName": "may not be set when latestRevision is true"},
        ),
        (
            {"template": TEMPLATE, "traffic": [{"latestRevision": False, "percent": 100}]},
            {"spec.traffic[0].revisionName": "required when latestRevision is false"},
        ),
        (
            {
                "template": TEMPLATE,
                "traffic": [
                    {"tag": "a", "percent": 100},
                    {"tag": "a", "revisionName": "r", "percent": 0},
                ],
            },
            {"spec.traffic[1].tag": "duplicate tag 'a'"},
        ),
        (
            {"template": TEMPLATE, "traffic": [{"configurationName": "c", "percent": 101}]},
            {
                "spec.traffic[0].configurationName": "unknown field; expected one of tag, revisionName, latestRevision, percent, url",  # noqa: E501
                "spec.traffic[0].percent": "invalid value 101: must be between 0 and 100, inclusive",  # noqa: E501
            },
        ),
    ],
)
def test_invalid_services(spec: Any, expected: dict[str, str]) -> None:
    assert field_errors(lambda: service.parse_service(ksvc(spec))) == expected


def test_v1alpha1_run_latest_converts_to_template() -> None:
    old = ksvc(
        {
            "runLatest": {
                "configuration": {
                    "revisionTemplate": {"spec": {"container": {"image": "gcr.io/x/hello"}}}
                }
            }
        },
        V1A1,
    )
    v1 = service.convert_service(old, V1)
    assert v1["spec"] == {"template": {"spec": {"containers": [{"image": "gcr.io/x/hello"}]}}}
    assert service.parse_service(old).spec.template.spec.image == "gcr.io/x/hello"
    back = service.convert_service(v1, V1A1)
    assert back["apiVersion"] == V1A1
    assert back["spec"] == v1["spec"]
    defaulted = serving.SERVICE.default(serving.SERVICE.to_version(old, V1))
    assert defaulted["apiVersion"] == V1
    assert defaulted["spec"]["template"]["spec"]["containers"][0]["name"] == "user-container"
    pinned = ksvc(
        {"pinned": {"revisionName": "hello-1", "configuration": {"revisionTemplate": TEMPLATE}}},
        V1A1,
    )
    assert service.parse_service(pinned).spec.traffic == [
        TrafficTarget(revision_name="hello-1", latest_revision=False, percent=100)
    ]
    template_shape = ksvc({"template": TEMPLATE}, V1A1)
    assert service.convert_service(template_shape, V1)["spec"] == {"template": TEMPLATE}
    assert field_errors(lambda: service.parse_service(ksvc({"release": {}}, V1A1))) == {
        "spec.release": "not supported; use spec.template and spec.traffic"
    }


def test_named_template_must_be_renamed() -> None:
    old = ksvc({"template": {"metadata": {"name": "hello-v1"}, **TEMPLATE}})
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    assert list(field_errors(lambda: serving.SERVICE.validate_update(old, new))) == [
        "spec.template.metadata.name"
    ]
    new["spec"]["template"]["metadata"]["name"] = "hello-v2"
    serving.SERVICE.validate_update(old, new)


def test_service_status_and_columns() -> None:
    status: dict[str, Any] = {}
    clock = FakeClock()
    ready = {"conditions": [{"type": "Ready", "status": "True"}]}
    service.propagate_configuration_status(
        status,
        {
            **ready,
            "latestCreatedRevisionName": "hello-00001",
            "latestReadyRevisionName": "hello-00001",
        },
        clock=clock,
    )
    assert not service.SERVICE_CONDITIONS.is_ready(status)
    service.propagate_route_status(
        status, {**ready, "url": "http://hello.ns.example.com"}, clock=clock
    )
    assert service.SERVICE_CONDITIONS.is_ready(status)
    row = ksvc({"template": TEMPLATE}) | {"status": status}
    cells = [json_path(row, c.json_path) for c in serving.SERVICE.printer_columns]
    assert cells == ["http://hello.ns.example.com", "hello-00001", "hello-00001", "True", None]


def test_configuration_route_revision() -> None:
    cfg = configuration.parse_configuration(
        {
            "apiVersion": V1,
            "kind": "Configuration",
            "metadata": {"name": "c"},
            "spec": {"template": TEMPLATE},
        }
    )
    assert cfg.spec.template.spec.container.name == "user-container"
    route: dict[str, Any] = {
        "apiVersion": V1,
        "kind": "Route",
        "metadata": {"name": "r"},
        "spec": {"traffic": [{"configurationName": "c"}]},
    }
    assert configuration.parse_route(route).spec.traffic == [
        RouteTrafficTarget(configuration_name="c", latest_revision=True, percent=100)
    ]
    route["spec"]["traffic"] = [{"latestRevision": True, "percent": 100}]
    assert field_errors(lambda: configuration.parse_route(route)) == {
        "spec.traffic[0].configurationName": "required when latestRevision is true"
    }
    rev: dict[str, Any] = {
        "apiVersion": V1,
        "kind": "Revision",
        "metadata": {
            "name": "c-00001",
            "labels": {
                revision.CONFIGURATION_LABEL: "c",
                revision.CONFIGURATION_GENERATION_LABEL: "1",
            },
        },
        "spec": TEMPLATE["spec"],
    }
    assert revision.parse_revision(rev).configuration == "c"
    changed = copy.deepcopy(rev)
    changed["spec"]["containerConcurrency"] = 5
    assert list(field_errors(lambda: serving.REVISION.validate_update(rev, changed))) == ["spec"]
    serving.REVISION.validate_update(rev, serving.REVISION.default(rev))
    cells = [c.value(rev) for c in serving.REVISION.printer_columns[:2] if c.value is not None]
    assert cells == ["c", "1"]
