"""discovery.k8s.io/v1 EndpointSlice: defaults, validation, immutable address type, cells."""

from __future__ import annotations

from typing import Any

from kawa.apis import discovery
from kawa.apis.discovery import endpointslice
from kawa.apis.registry import SCHEME

from ..helpers import field_errors

KIND = discovery.ENDPOINT_SLICE


def eps(**fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-abc", "namespace": "default"},
        **fields,
    }


def test_a_slice_is_defaulted_and_valid() -> None:
    obj = KIND.default(
        eps(
            addressType="IPv4",
            endpoints=[{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            ports=[{"port": 8080}],
        )
    )
    assert obj["ports"] == [{"port": 8080, "protocol": "TCP", "name": ""}]
    KIND.validate(obj)
    assert endpointslice.ports_cell(obj) == "8080"
    assert endpointslice.endpoints_cell(obj) == "127.0.0.1"
    assert SCHEME.resolve("endpointslices") is KIND


def test_invalid_slices() -> None:
    found = field_errors(lambda: KIND.validate(eps(endpoints=[])))
    assert set(found) == {"addressType"}
    found = field_errors(
        lambda: KIND.validate(
            eps(
                addressType="IPv4",
                endpoints=[{"addresses": []}, {"addresses": ["::1"]}],
                ports=[{"name": "a", "port": 1}, {"name": "a", "port": 2}],
            )
        )
    )
    assert set(found) == {
        "endpoints[0].addresses",
        "endpoints[1].addresses[0]",
        "ports[1].name",
    }


def test_address_type_is_immutable() -> None:
    old = KIND.default(eps(addressType="IPv4"))
    new = KIND.default(eps(addressType="IPv6"))
    found = field_errors(lambda: KIND.validate_update(old, new))
    assert set(found) == {"addressType"}


def test_cells_of_many_endpoints() -> None:
    obj = eps(addressType="IPv4", endpoints=[{"addresses": [f"10.0.0.{i}"]} for i in range(4)])
    assert endpointslice.endpoints_cell(obj) == "10.0.0.0,10.0.0.1,10.0.0.2 + 1 more..."
    assert endpointslice.ports_cell(obj) == "<unset>"
