"""The Service proxy's pure parts: which Host names a Service, which port a request means,
which endpoints are ready for it."""

from __future__ import annotations

from typing import Any

import pytest

from kawa.serving.services import Target, pick_port, ready_targets, service_host


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("web.default.svc.cluster.local", ("default", "web", None)),
        ("Web.Default.SVC.cluster.local.:8080", ("default", "web", 8080)),
        ("web.default.svc", ("default", "web", None)),
        ("web.default:80", ("default", "web", 80)),
        ("web.default.example.com", None),  # Knative's domain is for Knative Services
        ("127.0.0.1:7080", None),
        ("localhost", None),
        ("web.default:http", None),
        ("web.default:0", None),
        ("[::1]:80", None),
    ],
)
def test_service_host(host: str, expected: tuple[str, str, int | None] | None) -> None:
    assert service_host(host) == expected


def svc(*ports: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"ports": list(ports)}}


def test_pick_port() -> None:
    web = svc({"name": "admin", "port": 9000}, {"name": "http", "port": 80})
    assert pick_port(web, None) == {"name": "http", "port": 80}
    assert pick_port(web, 9000) == {"name": "admin", "port": 9000}
    assert pick_port(web, "9000") == {"name": "admin", "port": 9000}
    assert pick_port(web, "admin") == {"name": "admin", "port": 9000}
    assert pick_port(web, 81) is None
    assert pick_port(svc({"port": 8080}), None) == {"port": 8080}
    assert pick_port(svc(), None) is None


def test_ready_targets_by_port_name() -> None:
    web = svc({"name": "http", "port": 80}, {"name": "admin", "port": 9000})
    endpoints = {
        "subsets": [
            {
                "addresses": [{"ip": "127.0.0.1", "targetRef": {"name": "a"}}],
                "notReadyAddresses": [{"ip": "127.0.0.1"}],
                "ports": [{"name": "http", "port": 8081}, {"name": "admin", "port": 9001}],
            },
            {
                "addresses": [{"ip": "127.0.0.1", "targetRef": {"name": "b"}}],
                "ports": [{"name": "http", "port": 8082}],
            },
        ]
    }
    targets, not_ready = ready_targets(web, endpoints, {"name": "http", "port": 80})
    assert targets == [Target("127.0.0.1", 8081, "a"), Target("127.0.0.1", 8082, "b")]
    assert not_ready == 1
    targets, _ = ready_targets(web, endpoints, {"name": "admin", "port": 9000})
    assert targets == [Target("127.0.0.1", 9001, "a")]
    assert ready_targets(web, None, {"name": "http", "port": 80}) == ([], 0)


def test_a_users_endpoints_with_one_port_serve_the_one_service_port() -> None:
    one = svc({"port": 80})
    endpoints = {
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "x", "port": 9}]}]
    }
    assert ready_targets(one, endpoints, {"port": 80}) == ([Target("10.0.0.1", 9, "")], 0)
