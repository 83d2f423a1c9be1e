from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis import sources
from kawa.apis.duck import Destination, KReference
from kawa.apis.kn_common import mark_sink
from kawa.apis.label_selector import LabelSelector, LabelSelectorRequirement
from kawa.apis.sources import apiserversource, containersource, pingsource, sinkbinding
from kawa.apiserver.tables import json_path

from ..helpers import FakeClock, field_errors

V1 = "sources.knative.dev/v1"
V1A1 = "sources.eventing.knative.dev/v1alpha1"
SINK_REF = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "display"}
SINK = {"ref": SINK_REF}


def obj(kind: str, spec: Any, api_version: str = V1) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "src", "namespace": "ns"},
        "spec": spec,
    }


# -- PingSource ------------------------------------------------------------------------------


def test_pingsource() -> None:
    p = pingsource.parse_pingsource(
        obj(
            "PingSource",
            {
                "schedule": "*/2 * * * *",
                "timezone": "Europe/Paris",
                "contentType": "application/json",
                "data": '{"a": 1}',
                "sink": SINK,
                "ceOverrides": {"extensions": {"team": "a1"}},
            },
        )
    )
    assert p.spec.event_data == b'{"a": 1}'
    assert p.spec.timezone == "Europe/Paris"
    assert p.spec.sink == Destination(
        ref=KReference(
            api_version="serving.knative.dev/v1", kind="Service", name="display", namespace="ns"
        )
    )
    assert p.spec.extensions == {"team": "a1"}
    assert p.event_source == "/apis/v1/namespaces/ns/pingsources/src"
    assert (
        pingsource.parse_pingsource(
            obj("PingSource", {"dataBase64": "AAE=", "sink": SINK})
        ).spec.event_data
        == b"\x00\x01"
    )
    assert (
        pingsource.default_pingsource(obj("PingSource", {"sink": SINK}))["spec"]["schedule"]
        == "* * * * *"
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"data": "x", "dataBase64": "eA==", "sink": SINK},
            {
                "spec": "expected at most one of data or dataBase64, got both (use data for text, dataBase64 for binary data)"  # noqa: E501
            },
        ),
        (
            {"schedule": "61 * * * *", "sink": SINK},
            {"spec.schedule": "invalid cron schedule '61 * * * *': minute: 61 is outside 0-59"},
        ),
        (
            {"schedule": "CRON_TZ=UTC * * * * *", "sink": SINK},
            {"spec.schedule": "a time zone in the schedule is not supported; use spec.timezone"},
        ),
        (
            {"timezone": "Mars/Olympus", "sink": SINK},
            {
                "spec.timezone": "unknown time zone 'Mars/Olympus'; expected an IANA name such as Europe/Paris"  # noqa: E501
            },
        ),
        (
            {"dataBase64": "!!", "sink": SINK},
            {"spec.dataBase64": "invalid value: expected base64-encoded data"},
        ),
        ({}, {"spec.sink": "required field is missing"}),
        (
            {
                "sink": SINK,
                "ceOverrides": {"extensions": {"Bad": "x", "waytoolongextensionname": "y", "n": 1}},
            },
            {
                "spec.ceOverrides.extensions[Bad]": "invalid extension name: expected lower-case letters a-z and digits 0-9 only (CloudEvents attribute naming)",  # noqa: E501
                "spec.ceOverrides.extensions[waytoolongextensionname]": "invalid extension name: at most 20 characters",  # noqa: E501
                "spec.ceOverrides.extensions[n]": (
                    "expected a string, got a number (quote it in YAML)"
                ),
            },
        ),
    ],
)
def test_invalid_pingsources(spec: Any, expected: dict[str, str]) -> None:
    assert field_errors(lambda: pingsource.parse_pingsource(obj("PingSource", spec))) == expected


def test_pingsource_columns_and_status() -> None:
    status: dict[str, Any] = {}
    mark_sink(pingsource.PINGSOURCE_CONDITIONS, status, "http://display.ns/", clock=FakeClock())
    row = obj("PingSource", {"schedule": "* * * * *", "sink": SINK}) | {"status": status}
    cells = [json_path(row, c.json_path) for c in sources.PINGSOURCE.printer_columns]
    assert cells[:2] == ["http://display.ns/", "* * * * *"]
    assert cells[3] == "Unknown"  # Deployed not reported yet


def test_pingsource_is_served_as_v1beta2_too() -> None:
    """Knative serves PingSource v1beta2 (the same fields) and its Sequence example writes it."""
    v1beta2 = "sources.knative.dev/v1beta2"
    assert sources.PINGSOURCE.served_api_versions == (V1, v1beta2)
    spec = {"schedule": "*/2 * * * *", "contentType": "application/json", "data": "{}"}
    written = obj("PingSource", spec | {"sink": SINK}, v1beta2)
    stored = sources.PINGSOURCE.to_version(written, sources.PINGSOURCE.storage_api_version)
    assert stored == written | {"apiVersion": V1}
    assert pingsource.parse_pingsource(written).spec.schedule == "*/2 * * * *"
    assert sources.PINGSOURCE.parse(written).spec.schedule == "*/2 * * * *"  # type: ignore[attr-defined]


# -- ApiServerSource -------------------------------------------------------------------------

RESOURCES = [
    {
        "apiVersion": "v1",
        "kind": "Event",
        "selector": {
            "matchLabels": {"app": "a"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}],
        },
    }
]


def test_apiserversource_defaults_and_parse() -> None:
    raw = obj("ApiServerSource", {"resources": RESOURCES, "sink": SINK})
    defaulted = apiserversource.default_apiserversource(raw)
    assert (defaulted["spec"]["mode"], defaulted["spec"]["serviceAccountName"]) == (
        "Reference",
        "default",
    )
    s = apiserversource.parse_apiserversource(raw)
    selector = s.spec.resources[0].selector
    assert selector == LabelSelector(
        match_labels={"app": "a"},
        match_expressions=[LabelSelectorRequirement(key="tier", operator="In", values=["web"])],
    )
    assert selector.matches({"app": "a", "tier": "web"})
    assert not selector.matches({"app": "a"})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"sink": SINK}, {"spec.resources": "required field is missing"}),
        (
            {"sink": SINK, "resources": []},
            {"spec.resources": "required field is missing (a non-empty list)"},
        ),
        (
            {"resources": [{"kind": "Event"}], "sink": SINK, "mode": "Ref"},
            {
                "spec.resources[0].apiVersion": "required field is missing",
                "spec.mode": "must be one of Reference, Resource, got 'Ref'",
            },
        ),
        (
            {
                "resources": [
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "selector": {
                            "matchExpressions": [
                                {"key": "a", "operator": "Maybe"},
                                {"key": "b", "operator": "In"},
                                {"key": "c", "operator": "Exists", "values": ["x"]},
                            ]
                        },
                    }
                ],
                "sink": SINK,
            },
            {
                "spec.resources[0].selector.matchExpressions[0].operator": "must be one of In, NotIn, Exists, DoesNotExist, got 'Maybe'",  # noqa: E501
                "spec.resources[0].selector.matchExpressions[1].values": "must be non-empty when operator is In",  # noqa: E501
                "spec.resources[0].selector.matchExpressions[2].values": "must be empty when operator is Exists",  # noqa: E501
            },
        ),
        (
            {"resources": RESOURCES, "sink": SINK, "owner": {"kind": "ReplicaSet"}},
            {"spec.owner.apiVersion": "required field is missing"},
        ),
    ],
)
def test_invalid_apiserversources(spec: Any, expected: dict[str, str]) -> None:
    assert (
        field_errors(lambda: apiserversource.parse_apiserversource(obj("ApiServerSource", spec)))
        == expected
    )


def test_v1alpha1_apiserversource_round_trip() -> None:
    old = obj(
        "ApiServerSource",
        {
            "serviceAccountName": "events-sa",
            "mode": "Ref",
            "resources": [
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "controller": True,
                    "labelSelector": {"matchLabels": {"a": "b"}},
                }
            ],
            "sink": {
                "apiVersion": "eventing.knative.dev/v1alpha1",
                "kind": "Broker",
                "name": "default",
            },
        },
        V1A1,
    )
    v1 = apiserversource.convert_apiserversource(old, V1)
    assert v1["spec"]["sink"] == {
        "ref": {"apiVersion": "eventing.knative.dev/v1alpha1", "kind": "Broker", "name": "default"}
    }
    assert v1["spec"]["mode"] == "Reference"
    assert v1["spec"]["resources"] == [
        {"apiVersion": "v1", "kind": "Event", "selector": {"matchLabels": {"a": "b"}}}
    ]
    assert apiserversource.convert_apiserversource(v1, V1A1) == old
    parsed = apiserversource.parse_apiserversource(old)
    assert (parsed.spec.mode, parsed.spec.service_account_name) == ("Reference", "events-sa")
    stored = sources.APISERVERSOURCE.default(sources.APISERVERSOURCE.to_version(old, V1))
    assert stored["spec"]["sink"]["ref"]["namespace"] == "ns"


def test_v1_apiserversource_round_trip_through_v1alpha1() -> None:
    new = apiserversource.default_apiserversource(
        obj(
            "ApiServerSource",
            {
                "resources": RESOURCES,
                "sink": SINK,
                "owner": {"apiVersion": "apps/v1", "kind": "Deployment"},
                "ceOverrides": {"extensions": {"x": "y"}},
            },
        )
    )
    down = apiserversource.convert_apiserversource(new, V1A1)
    assert down["spec"]["mode"] == "Ref"
    assert "owner" not in down["spec"]
    assert down["spec"]["sink"]["name"] == "display"
    assert apiserversource.convert_apiserversource(down, V1) == new


# -- ContainerSource and SinkBinding ---------------------------------------------------------


def test_containersource() -> None:
    template = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"image": "ghcr.io/x/heartbeats"}]},
    }
    raw = obj("ContainerSource", {"template": template, "sink": SINK})
    assert (
        containersource.default_containersource(raw)["spec"]["template"]["spec"]["containers"][0][
            "name"
        ]
        == "src-0"
    )
    source = containersource.parse_containersource(raw)
    assert source.spec.template.spec.containers[0].image == "ghcr.io/x/heartbeats"
    bad = copy.deepcopy(raw)
    bad["spec"]["template"]["spec"]["containers"] = [{"name": "a"}, {"name": "a", "image": "i"}]
    assert field_errors(lambda: containersource.parse_containersource(bad)) == {
        "spec.template.spec.containers[0].image": "required field is missing",
        "spec.template.spec.containers[1].name": "duplicate value 'a'",
    }
    bad["spec"]["template"] = {"spec": {}}
    assert field_errors(lambda: containersource.parse_containersource(bad)) == {
        "spec.template.spec.containers": "required field is missing"
    }
    bad["spec"]["template"] = {"spec": {"containers": []}}
    assert field_errors(lambda: containersource.parse_containersource(bad)) == {
        "spec.template.spec.containers": "required field is missing (a non-empty list)"
    }


def test_sinkbinding() -> None:
    subject = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "selector": {"matchLabels": {"app": "a"}},
    }
    b = sinkbinding.parse_sinkbinding(obj("SinkBinding", {"subject": subject, "sink": SINK}))
    assert b.spec.subject.namespace == "ns"
    assert b.spec.subject.name is None
    both = {**subject, "name": "d"}
    assert field_errors(
        lambda: sinkbinding.parse_sinkbinding(obj("SinkBinding", {"subject": both, "sink": SINK}))
    ) == {"spec.subject": "expected exactly one of name or selector, got both"}
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "namespace": "elsewhere"}
    assert field_errors(
        lambda: sinkbinding.parse_sinkbinding(obj("SinkBinding", {"subject": other, "sink": SINK}))
    ) == {"spec.subject.namespace": "must be the SinkBinding's namespace 'ns', got 'elsewhere'"}
