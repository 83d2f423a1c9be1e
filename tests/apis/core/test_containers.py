"""The container reader shared by Pods and Knative templates: probes (Kubernetes' rules)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis.core import pod

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
            {
                f"{C}.readinessProbe.httpGet.scheme": "unsupported value 'FTP': supported values: "
                '"HTTP", "HTTPS"'
            },
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
        f"{C}.env[3].value": "expected a string, got a number",
    }
