"""Containers and pod specs, shared by Pods and Knative templates: probes (Kubernetes' rules),
the rules across fields reported with the type errors, Knative's serving container."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis.core import containers, pod, pod_spec
from kawa.apis.model import openapi
from kawa.apis.model.base import Context
from kawa.apis.model.parse import validate
from kawa.errors import FieldError

from ..helpers import field_errors

C = "spec.containers[0]"
GE0 = "must be greater than or equal to 0"


def pod_with(**container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "busybox",
                    "ports": [{"containerPort": 8080, "name": "http"}],
                    **copy.deepcopy(container),
                }
            ]
        },
    }


@pytest.mark.parametrize(
    "probe",
    [
        {"httpGet": {"path": "/healthz", "port": 8080}},
        {
            "httpGet": {
                "port": "http",
                "scheme": "HTTPS",
                "httpHeaders": [{"name": "X", "value": "1"}],
            }
        },
        {"tcpSocket": {"port": "http"}, "periodSeconds": 0, "failureThreshold": 0},
        {"exec": {"command": ["cat", "/tmp/ok"]}, "initialDelaySeconds": 5},
        {"grpc": {"port": 9090, "service": "health"}},
    ],
)
def test_good_probes_are_accepted(probe: dict[str, Any]) -> None:
    pod.parse_pod(pod_with(readinessProbe=probe, livenessProbe=probe, startupProbe=probe))


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        (
            {"periodSeconds": 5},
            {
                f"{C}.readinessProbe": "must specify a handler type: one of 'exec', 'httpGet', "
                "'tcpSocket', 'grpc'"
            },
        ),
        (
            {"httpGet": {"port": 8080}, "tcpSocket": {"port": 8080}},
            {f"{C}.readinessProbe.tcpSocket": "may not specify more than 1 handler type"},
        ),
        (
            {"httpGet": {"port": "abc"}},
            {
                f"{C}.readinessProbe.httpGet.port": "invalid value 'abc': no container port has "
                "this name (port names: http)"
            },
        ),
        (
            {"httpGet": {"port": "Not A Name"}},
            {
                f"{C}.readinessProbe.httpGet.port": "invalid value 'Not A Name': a port is a "
                "number (1-65535) or the name of a container port; a name must be no more than "
                "15 characters of lower case letters, digits and '-', with at least one letter, "
                "not starting, ending or doubling '-' (an IANA service name)"
            },
        ),
        (
            {"tcpSocket": {"port": 70000}},
            {
                f"{C}.readinessProbe.tcpSocket.port": "invalid value 70000: must be between 1 and "
                "65535, inclusive"
            },
        ),
        ({"tcpSocket": {}}, {f"{C}.readinessProbe.tcpSocket.port": "required field is missing"}),
        (
            {"grpc": {"port": "http"}},
            {f"{C}.readinessProbe.grpc.port": "expected an integer, got a string"},
        ),
        (
            {"exec": {"command": "cat /tmp/ok"}},
            {f"{C}.readinessProbe.exec.command": "expected a list, got a string"},
        ),
        (
            {"httpGet": {"port": 8080, "scheme": "FTP"}},
            {f"{C}.readinessProbe.httpGet.scheme": "must be one of HTTP, HTTPS, got 'FTP'"},
        ),
        (
            {
                "tcpSocket": {"port": 8080},
                "periodSeconds": -1,
                "timeoutSeconds": -1,
                "failureThreshold": -2,
                "successThreshold": -1,
                "initialDelaySeconds": "5",
            },
            {
                f"{C}.readinessProbe.periodSeconds": f"invalid value -1: {GE0}",
                f"{C}.readinessProbe.timeoutSeconds": f"invalid value -1: {GE0}",
                f"{C}.readinessProbe.failureThreshold": f"invalid value -2: {GE0}",
                f"{C}.readinessProbe.successThreshold": f"invalid value -1: {GE0}",
                f"{C}.readinessProbe.initialDelaySeconds": "expected an integer, got a string",
            },
        ),
        ("yes", {f"{C}.readinessProbe": "expected a mapping, got a string"}),
    ],
)
def test_bad_readiness_probes_are_refused_at_their_path(
    probe: Any, expected: dict[str, str]
) -> None:
    assert field_errors(lambda: pod.parse_pod(pod_with(readinessProbe=probe))) == expected


def test_liveness_and_startup_probes_need_success_threshold_one() -> None:
    probe = {"tcpSocket": {"port": 8080}, "successThreshold": 2}
    assert field_errors(
        lambda: pod.parse_pod(pod_with(livenessProbe=probe, startupProbe=probe))
    ) == {
        f"{C}.livenessProbe.successThreshold": "invalid value 2: must be 1",
        f"{C}.startupProbe.successThreshold": "invalid value 2: must be 1",
    }
    pod.parse_pod(pod_with(readinessProbe=probe))


def test_pod_env_rules_unchanged() -> None:
    env = [{"name": "A", "value": "1"}, {"value": "x"}, {"name": "1BAD"}, {"name": "N", "value": 7}]
    assert field_errors(lambda: pod.parse_pod(pod_with(env=env))) == {
        f"{C}.env[1].name": "required field is missing",
        f"{C}.env[2].name": "invalid value '1BAD': a valid environment variable name must "
        "consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a "
        "digit",
        f"{C}.env[3].value": "expected a string, got a number (quote it in YAML)",
    }


# -- the declarations other kinds embed (PodSpec, PodTemplateSpec, KnativeContainer) ---------


def template_errors(value: Any) -> dict[str, str]:
    errors: list[FieldError] = []
    validate(pod_spec.PodTemplateSpec, value, errors, ctx=Context(), path="spec.template")
    found: dict[str, str] = {}
    for e in errors:
        found[e.path] = f"{found[e.path]} | {e.message}" if e.path in found else e.message
    return found


def test_pod_rules_are_reported_with_the_type_errors() -> None:
    # As Kubernetes validates a Pod in one pass: the rules across fields (probe ports, volume
    # names, container names) are reported next to a misspelt field and a wrong type.
    template = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "busybox",
                    "env": [{"value": "x"}],
                    "readinessProbe": {"tcpSocket": {}, "periodSeconds": -1},
                    "livenessProbe": {"httpGet": {"port": "web"}},
                    "volumeMounts": [{"name": "data", "mountPath": "/d"}],
                    "imagePullPolicie": "Always",
                }
            ],
            "initContainers": [{"name": "a", "image": "busybox"}],
            "volumes": [{"name": "other"}, {"name": "other"}],
        },
    }
    at = "spec.template.spec.containers[0]"
    found = template_errors(template)
    assert found == {
        f"{at}.env[0].name": "required field is missing",
        f"{at}.readinessProbe.periodSeconds": f"invalid value -1: {GE0}",
        f"{at}.imagePullPolicie": found[f"{at}.imagePullPolicie"],
        f"{at}.readinessProbe.tcpSocket.port": "required field is missing",
        f"{at}.livenessProbe.httpGet.port": "invalid value 'web': no container port has this "
        "name (port names: none)",
        "spec.template.spec.volumes[1].name": "duplicate value 'other'",
        "spec.template.spec.initContainers[0].name": "duplicate value 'a'",
        f"{at}.volumeMounts[0].name": "not found: no volume 'data'",
    }
    assert found[f"{at}.imagePullPolicie"].startswith("unknown field; expected one of name,")


def test_a_template_without_containers_or_spec() -> None:
    assert template_errors({"spec": {"containers": []}}) == {
        "spec.template.spec.containers": "required field is missing (a non-empty list)"
    }
    assert template_errors({"metadata": {}}) == {"spec.template.spec": "required field is missing"}


def test_ephemeral_containers_cannot_be_set() -> None:
    spec = {"containers": [{"name": "a", "image": "x"}], "ephemeralContainers": [{"name": "d"}]}
    assert template_errors({"spec": spec}) == {
        "spec.template.spec.ephemeralContainers": "may not be set: ephemeral containers are "
        "added through the Pod's ephemeralcontainers subresource, which kawa does not serve"
    }


def test_knative_container_rules() -> None:
    item: dict[str, Any] = {
        "name": "user-container",
        "image": "x",
        "ports": [{"containerPort": 8080, "hostPort": 80}, {"containerPort": 9090}],
        "readinessProbe": {"httpGet": {"path": "/ready"}},
    }
    errors: list[FieldError] = []
    assert validate(containers.KnativeContainer, item, errors, ctx=Context(), path="c") is None
    assert {e.path: e.message for e in errors} == {
        "c.ports": "More than one container port is set: only a single port is allowed",
        "c.ports[0].hostPort": "must not set the field(s): a Revision's container cannot bind "
        "a host port",
    }
    # A Pod's container may have several ports and host ports, but its probes need a port.
    errors.clear()
    assert validate(containers.Container, item, errors, ctx=Context(), path="c") is None
    assert [(e.path, e.message) for e in errors] == [
        ("c.readinessProbe.httpGet.port", "required field is missing")
    ]
    errors.clear()
    item["readinessProbe"]["httpGet"]["port"] = 9090
    plain = validate(containers.Container, item, errors, ctx=Context(), path="c")
    assert errors == []
    assert plain is not None
    assert plain.pull_policy == "Always"


def test_pod_spec_merge_keys_are_kubernetes() -> None:
    keyed = {"env": "name", "ports": "containerPort"}
    keyed |= {"volumeMounts": "mountPath", "volumeDevices": "devicePath"}
    assert openapi.merge_keys(pod_spec.PodSpec) == {
        "containers": "name",
        "initContainers": "name",
        "ephemeralContainers": "name",
        **{f"containers[].{k}": v for k, v in keyed.items()},
        **{f"initContainers[].{k}": v for k, v in keyed.items()},
        "volumes": "name",
        "imagePullSecrets": "name",
        "hostAliases": "ip",
    }


def test_volumes_keep_their_sources() -> None:
    spec = {
        "containers": [{"name": "c", "image": "x"}],
        "volumes": [{"name": "a", "csi": {"driver": "d"}}, {"name": "B"}],
    }
    errors: list[FieldError] = []
    parsed = validate(pod_spec.PodSpec, spec, errors, ctx=Context(), path="spec")
    assert parsed is None
    assert [e.path for e in errors] == ["spec.volumes[1].name"]
    errors.clear()
    spec["volumes"] = [{"name": "a", "csi": {"driver": "d"}}]
    parsed = validate(pod_spec.PodSpec, spec, errors, ctx=Context(), path="spec")
    assert errors == []
    assert parsed is not None
    assert parsed.volumes[0].name == "a"
    errors.clear()
    validate(pod_spec.PodSpec, {**spec, "volumes": {}}, errors, ctx=Context(), path="spec")
    assert errors == [FieldError("spec.volumes", "expected a list, got a mapping")]
