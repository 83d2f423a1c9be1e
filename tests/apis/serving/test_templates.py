"""Revision templates (Service, Configuration, Revision) and ContainerSource templates check
their containers with the Pod's rules, plus Knative's for a Revision's container."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kawa.apis.serving import configuration, revision, service
from kawa.apis.sources import containersource

from ..helpers import field_errors

V1 = "serving.knative.dev/v1"
ENV_NAME_HELP = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', "
    "'-', or '.', and must not start with a digit"
)


def container(**extra: Any) -> dict[str, Any]:
    return {"image": "busybox", "command": ["sleep", "1000"], **copy.deepcopy(extra)}


def ksvc(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": V1,
        "kind": "Service",
        "metadata": {"name": "mins", "namespace": "ns"},
        "spec": {"template": {"spec": {"containers": [c]}}},
    }


def config(c: dict[str, Any]) -> dict[str, Any]:
    return dict(ksvc(c), kind="Configuration")


def rev(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": V1,
        "kind": "Revision",
        "metadata": {"name": "mins-00001", "namespace": "ns"},
        "spec": {"containers": [c]},
    }


PARSERS: list[tuple[Callable[[dict[str, Any]], object], Callable[..., Any], str]] = [
    (ksvc, service.parse_service, "spec.template.spec.containers[0]"),
    (config, configuration.parse_configuration, "spec.template.spec.containers[0]"),
    (rev, revision.parse_revision, "spec.containers[0]"),
]


@pytest.mark.parametrize(("make", "parse", "at"), PARSERS)
def test_env_is_checked_as_in_a_pod(make: Any, parse: Any, at: str) -> None:
    env = [
        {"name": "OK", "value": "1"},
        {"value": "x"},
        {"name": "1BAD"},
        {"name": "N", "value": 7},
    ]
    assert field_errors(lambda: parse(make(container(env=env)))) == {
        f"{at}.env[1].name": "required field is missing",
        f"{at}.env[2].name": f"invalid value '1BAD': {ENV_NAME_HELP}",
        f"{at}.env[3].value": "expected a string, got a number (quote it in YAML)",
    }


@pytest.mark.parametrize(("make", "parse", "at"), PARSERS)
def test_probes_are_checked(make: Any, parse: Any, at: str) -> None:
    c = container(readinessProbe={"httpGet": {"port": "abc"}, "periodSeconds": -1})
    assert field_errors(lambda: parse(make(c))) == {
        f"{at}.readinessProbe.httpGet.port": "invalid value 'abc': no container port has this "
        "name (port names: none)",
        f"{at}.readinessProbe.periodSeconds": "invalid value -1: must be greater than or equal "
        "to 0",
    }


@pytest.mark.parametrize(("make", "parse", "at"), PARSERS)
def test_knative_rules_of_the_revision_container(make: Any, parse: Any, at: str) -> None:
    c = container(ports=[{"containerPort": 8080, "hostPort": 80}, {"containerPort": 9090}])
    assert field_errors(lambda: parse(make(c))) == {
        f"{at}.ports": "More than one container port is set: only a single port is allowed",
        f"{at}.ports[0].hostPort": "must not set the field(s): a Revision's container cannot "
        "bind a host port",
    }


@pytest.mark.parametrize(("make", "parse", "at"), PARSERS)
def test_good_templates_still_pass(make: Any, parse: Any, at: str) -> None:
    # Knative aims a probe without a port at the container's port; a named port is fine.
    good = container(
        ports=[{"containerPort": 8080, "name": "http1"}],
        env=[{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {}}}],
        readinessProbe={"httpGet": {"path": "/ready"}, "periodSeconds": 0},
        livenessProbe={"tcpSocket": {"port": "http1"}},
    )
    parse(make(good))


def test_containersource_template_uses_the_pod_rules() -> None:
    raw = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ContainerSource",
        "metadata": {"name": "src", "namespace": "ns"},
        "spec": {
            "sink": {"uri": "http://example.com"},
            "template": {
                "spec": {
                    "containers": [
                        container(
                            env=[{"value": "x"}],
                            readinessProbe={"tcpSocket": {}},
                            ports=[{"containerPort": 1}, {"containerPort": 2, "hostPort": 8}],
                            volumeMounts=[{"name": "data", "mountPath": "/d"}],
                        )
                    ],
                    "volumes": [{"name": "other"}],
                }
            },
        },
    }
    at = "spec.template.spec.containers[0]"
    # A ContainerSource is a plain pod: several ports and host ports are allowed there.
    assert field_errors(lambda: containersource.parse_containersource(raw)) == {
        f"{at}.env[0].name": "required field is missing",
        f"{at}.readinessProbe.tcpSocket.port": "required field is missing",
        f"{at}.volumeMounts[0].name": "not found: no volume 'data'",
    }
