"""core/v1 Service and Endpoints: defaults, Kubernetes' validation, update rules, cells."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from kawa.apis import core
from kawa.apis.core import endpoints, service
from kawa.apis.registry import SCHEME

from ..helpers import field_errors


def svc(spec: dict[str, Any] | None = None, name: str = "web") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
    }
    if spec is not None:
        obj["spec"] = spec
    return obj


def test_defaults_of_a_cluster_ip_service() -> None:
    out = core.SERVICE.default(svc({"selector": {"app": "web"}, "ports": [{"port": 80}]}))
    spec = out["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    ip = ipaddress.ip_address(spec["clusterIP"])
    assert ip in service.CLUSTER_IP_RANGE
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"
    core.SERVICE.validate(out)
    # the same Service gets the same address; another one another
    again = core.SERVICE.default(svc({"ports": [{"port": 80}]}))
    assert again["spec"]["clusterIP"] == spec["clusterIP"]
    other = core.SERVICE.default(svc({"ports": [{"port": 80}]}, name="other"))
    assert other["spec"]["clusterIP"] != spec["clusterIP"]


def test_named_target_port_headless_and_given_ip_are_kept() -> None:
    out = core.SERVICE.default(
        svc({"clusterIP": "None", "ports": [{"port": 80, "targetPort": "http"}]})
    )
    assert out["spec"]["clusterIP"] == "None"
    assert out["spec"]["ports"][0]["targetPort"] == "http"
    given = core.SERVICE.default(svc({"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}))
    assert given["spec"]["clusterIPs"] == ["10.96.0.10"]
    headless_without_ports = core.SERVICE.default(svc({"clusterIP": "None"}))
    core.SERVICE.validate(headless_without_ports)


def test_node_port_load_balancer_and_external_name_defaults() -> None:
    node = core.SERVICE.default(svc({"type": "NodePort", "ports": [{"port": 80}]}))
    assert node["spec"]["ports"][0]["nodePort"] in service.NODE_PORT_RANGE
    assert node["spec"]["externalTrafficPolicy"] == "Cluster"
    balancer = core.SERVICE.default(svc({"type": "LoadBalancer", "ports": [{"port": 80}]}))
    assert balancer["spec"]["allocateLoadBalancerNodePorts"] is True
    external = core.SERVICE.default(svc({"type": "ExternalName", "externalName": "example.com"}))
    assert "clusterIP" not in external["spec"]
    for obj in (node, balancer, external):
        core.SERVICE.validate(obj)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"selector": {"app": "x"}}, {"spec.ports": "Required value"}),
        (
            {"ports": [{"port": 80}, {"port": 81}]},
            {"spec.ports[0].name": "Required value", "spec.ports[1].name": "Required value"},
        ),
        (
            {"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]},
            {"spec.ports[1].name": 'Duplicate value: "a"'},
        ),
        (
            {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]},
            {"spec.ports[1]": "Duplicate value: port 80/TCP"},
        ),
        (
            {"ports": [{"port": 0}]},
            {"spec.ports[0].port": "must be between", "spec.ports[0].targetPort": "invalid"},
        ),
        ({"ports": [{"port": "80"}]}, {"spec.ports[0].port": "expected an integer"}),
        ({"ports": [{"port": 80, "targetPort": 70000}]}, {"spec.ports[0].targetPort": "invalid"}),
        (
            {"ports": [{"port": 80, "targetPort": "Not_A_Name"}]},
            {"spec.ports[0].targetPort": "invalid"},
        ),
        ({"ports": [{"port": 80, "name": "Web"}]}, {"spec.ports[0].name": "invalid value 'Web'"}),
        ({"ports": [{"port": 80, "protocol": "HTTP"}]}, {"spec.ports[0].protocol": ""}),
        (
            {"ports": [{"port": 80, "nodePort": 30001}]},
            {"spec.ports[0].nodePort": "Forbidden: may not be used when `type` is 'ClusterIP'"},
        ),
        ({"type": "Cluster", "ports": [{"port": 80}]}, {"spec.type": ""}),
        ({"clusterIP": "ten", "ports": [{"port": 80}]}, {"spec.clusterIP": 'Invalid value: "ten"'}),
        (
            {"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]},
            {"spec.clusterIP": "Invalid value: \"None\": may not be 'None' for NodePort"},
        ),
        ({"type": "ExternalName"}, {"spec.externalName": "Required value"}),
        (
            {"type": "ExternalName", "externalName": "a b", "clusterIP": "10.96.0.1"},
            {"spec.externalName": 'Invalid value: "a b"', "spec.clusterIP": "Forbidden"},
        ),
        ({"selector": {"a b": "x"}, "ports": [{"port": 80}]}, {"spec.selector": "invalid key"}),
        ({"ports": [{"port": 80}], "bogus": 1}, {"spec.bogus": ""}),
    ],
)
def test_invalid_services(spec: dict[str, Any], expected: dict[str, str]) -> None:
    found = field_errors(lambda: core.SERVICE.validate(svc(spec)))
    assert found.keys() == expected.keys(), found
    for path, start in expected.items():
        assert found[path].startswith(start) or start in found[path], (path, found[path])


def test_type_errors_and_cross_field_rules_come_together() -> None:
    found = field_errors(
        lambda: core.SERVICE.validate(svc({"ports": [{"port": "x"}, {"port": 81}]}))
    )
    assert "spec.ports[0].port" in found
    assert found["spec.ports[1].name"] == "Required value"


def test_cluster_ip_is_immutable() -> None:
    old = core.SERVICE.default(svc({"ports": [{"port": 80}]}))
    new = core.SERVICE.default(svc({"clusterIP": "10.96.0.99", "ports": [{"port": 80}]}))
    found = field_errors(lambda: core.SERVICE.validate_update(old, new))
    assert found == {"spec.clusterIP": "Invalid value: field is immutable"}
    # the same Service written again without clusterIP keeps its address
    core.SERVICE.validate_update(old, core.SERVICE.default(svc({"ports": [{"port": 8080}]})))
    external = core.SERVICE.default(svc({"type": "ExternalName", "externalName": "x.example"}))
    core.SERVICE.validate_update(old, external)


def test_kubectl_expose_output_is_accepted() -> None:
    # what `kubectl expose pod web --port=80 --target-port=8080 --dry-run=client -o json` sends
    exposed = {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}},
        "spec": {
            "ports": [{"protocol": "TCP", "port": 80, "targetPort": 8080}],
            "selector": {"app": "web"},
        },
        "status": {"loadBalancer": {}},
    }
    core.SERVICE.validate(core.SERVICE.default(exposed))


def test_service_cells() -> None:
    obj = core.SERVICE.default(
        svc(
            {
                "type": "NodePort",
                "ports": [
                    {"name": "a", "port": 80, "nodePort": 30080},
                    {"name": "b", "port": 53, "protocol": "UDP"},
                ],
            }
        )
    )
    assert service.type_cell(obj) == "NodePort"
    assert service.ports_cell(obj).startswith("80:30080/TCP,53:")
    assert service.ports_cell(obj).endswith("/UDP")
    assert service.external_ip_cell(obj) == "<none>"
    balancer = core.SERVICE.default(svc({"type": "LoadBalancer", "ports": [{"port": 80}]}))
    assert service.external_ip_cell(balancer) == "<pending>"
    external = core.SERVICE.default(svc({"type": "ExternalName", "externalName": "x.example"}))
    assert service.cluster_ip_cell(external) == "<none>"
    assert service.external_ip_cell(external) == "x.example"
    assert service.selector_cell(obj) == "<none>"


def test_names_resolve_as_kubectl_does() -> None:
    assert SCHEME.resolve("svc") is core.SERVICE
    assert SCHEME.resolve("service") is core.SERVICE
    assert SCHEME.resolve("services") is core.SERVICE
    assert SCHEME.resolve("ksvc").group == "serving.knative.dev"
    assert SCHEME.resolve("services.serving.knative.dev").group == "serving.knative.dev"
    assert SCHEME.resolve("ep") is core.ENDPOINTS


def ep(subsets: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": subsets,
    }


def test_endpoints_validation_and_cell() -> None:
    obj = core.ENDPOINTS.default(
        ep([{"addresses": [{"ip": "127.0.0.1"}, {"ip": "127.0.0.2"}], "ports": [{"port": 8080}]}])
    )
    assert obj["subsets"][0]["ports"][0]["protocol"] == "TCP"
    core.ENDPOINTS.validate(obj)
    assert endpoints.endpoints_cell(obj) == "127.0.0.1:8080,127.0.0.2:8080"
    many = ep([{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(5)], "ports": [{"port": 1}]}])
    assert endpoints.endpoints_cell(many).endswith(" + 2 more...")
    assert endpoints.endpoints_cell(ep([])) == "<none>"
    found = field_errors(
        lambda: core.ENDPOINTS.validate(
            ep([{"addresses": [{"ip": "nope"}], "ports": [{"port": 1}, {"port": 70000}]}])
        )
    )
    assert set(found) == {
        "subsets[0].addresses[0].ip",
        "subsets[0].ports[1].port",
    }
    found = field_errors(
        lambda: core.ENDPOINTS.validate(ep([{"ports": [{"port": 1}, {"port": 2}]}]))
    )
    assert found == {
        "subsets[0].ports[0].name": "Required value",
        "subsets[0].ports[1].name": "Required value",
    }
