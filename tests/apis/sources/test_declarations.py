"""The sources declared as models: the shared source shape, label selectors, and the rules the
hand-written parsers had that are now said on types and in checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis import duck, sources
from kawa.apis.label_selector import LabelSelector, LabelSelectorRequirement
from kawa.apis.sources import apiserversource, containersource, pingsource, sinkbinding

from ..helpers import field_errors

V1 = "sources.knative.dev/v1"
SINK = {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "display"}}
RESOURCES = [{"apiVersion": "v1", "kind": "Event"}]
SUBJECT = {"apiVersion": "v1", "kind": "Pod", "name": "p"}
TEMPLATE = {"spec": {"containers": [{"image": "ghcr.io/x/heartbeats"}]}}
SPECS: dict[str, dict[str, Any]] = {
    "PingSource": {},
    "ApiServerSource": {"resources": RESOURCES},
    "ContainerSource": {"template": TEMPLATE},
    "SinkBinding": {"subject": SUBJECT},
}


def obj(kind: str, spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": V1,
        "kind": kind,
        "metadata": {"name": "src", "namespace": "ns"},
        "spec": copy.deepcopy(spec),
    }


# -- what every source shares ----------------------------------------------------------------


@pytest.mark.parametrize("rk", sources.KINDS, ids=lambda rk: rk.kind)
def test_every_source_has_the_shared_spec_and_status(rk: Any) -> None:
    assert rk.model is not None
    spec_model = rk.model.model_fields["spec"].annotation
    assert issubclass(spec_model, duck.SourceSpec)
    assert rk.status is not None
    assert issubclass(rk.status, duck.SourceStatus)
    schema = rk.schema
    spec = schema["properties"]["spec"]
    assert "sink" in spec["required"]
    extensions = spec["properties"]["ceOverrides"]["properties"]["extensions"]
    assert extensions["additionalProperties"]["type"] == "string"
    status = schema["properties"]["status"]["properties"]
    assert {"sinkUri", "ceAttributes", "conditions", "observedGeneration"} <= set(status)
    parsed = rk.parse(
        obj(rk.kind, {**SPECS[rk.kind], "sink": SINK, "ceOverrides": {"extensions": {"a": "1"}}})
    )
    assert parsed.spec.sink.ref.namespace == "ns"
    assert parsed.spec.extensions == {"a": "1"}
    assert field_errors(lambda: rk.parse(obj(rk.kind, SPECS[rk.kind]))) == {
        "spec.sink": "required field is missing"
    }
    assert field_errors(
        lambda: rk.parse(obj(rk.kind, {**SPECS[rk.kind], "sink": SINK, "sinkUri": "x"}))
    ) == {"spec.sinkUri": f"unknown field; expected one of {', '.join(spec['properties'])}"}


def test_extensions_are_none_without_ce_overrides() -> None:
    spec = pingsource.parse_pingsource(obj("PingSource", {"sink": SINK})).spec
    assert spec.ce_overrides is None
    assert spec.extensions is None


# -- label selectors -------------------------------------------------------------------------


def test_label_selector_rules() -> None:
    selector = {
        "matchLabels": {"-bad": "ok", "app": "not valid!"},
        "matchExpressions": [{"key": "a/", "operator": "Exists"}],
    }
    resources = [{"apiVersion": "v1", "kind": "Pod", "selector": selector}]
    found = field_errors(
        lambda: apiserversource.parse_apiserversource(
            obj("ApiServerSource", {"resources": resources, "sink": SINK})
        )
    )
    path = "spec.resources[0].selector"
    assert set(found) == {
        f"{path}.matchLabels[app]",
        f"{path}.matchExpressions[0].key",
    }
    assert found[f"{path}.matchLabels[app]"].startswith("invalid value 'not valid!': ")
    assert found[f"{path}.matchExpressions[0].key"].startswith("invalid key 'a/': ")
    selector["matchLabels"] = {"-bad": "ok"}
    selector["matchExpressions"] = []
    found = field_errors(
        lambda: apiserversource.parse_apiserversource(
            obj("ApiServerSource", {"resources": resources, "sink": SINK})
        )
    )
    assert list(found) == [f"{path}.matchLabels"]
    assert found[f"{path}.matchLabels"].startswith("invalid key '-bad': name part ")


def test_label_selector_matching() -> None:
    assert LabelSelector().matches({})
    selector = LabelSelector(
        match_labels={"app": "web"},
        match_expressions=[
            LabelSelectorRequirement(key="tier", operator="NotIn", values=["db"]),
            LabelSelectorRequirement(key="canary", operator="DoesNotExist"),
        ],
    )
    assert selector.matches({"app": "web"})
    assert selector.matches({"app": "web", "tier": "front"})
    assert not selector.matches({"app": "web", "tier": "db"})
    assert not selector.matches({"app": "web", "canary": ""})
    assert not selector.matches({"app": "api"})


# -- PingSource ------------------------------------------------------------------------------


def test_pingsource_schedule() -> None:
    spec = pingsource.parse_pingsource(obj("PingSource", {"schedule": "", "sink": SINK})).spec
    assert spec.schedule == pingsource.DEFAULT_SCHEDULE
    assert spec.cron_schedule.minutes == frozenset(range(60))
    assert spec.event_data is None
    schema = sources.PINGSOURCE.schema
    assert schema is not None
    assert schema["properties"]["spec"]["properties"]["schedule"]["default"] == "* * * * *"
    found = field_errors(
        lambda: pingsource.parse_pingsource(
            obj("PingSource", {"schedule": 5, "timezone": "Nowhere/Land", "sink": SINK})
        )
    )
    assert found == {
        "spec.schedule": "expected a string, got a number (quote it in YAML)",
        "spec.timezone": "unknown time zone 'Nowhere/Land'; expected an IANA name such as "
        "Europe/Paris",
    }
    too_long = "Europe/" + "x" * 300  # the zone database's file name would be too long
    assert list(
        field_errors(
            lambda: pingsource.parse_pingsource(
                obj("PingSource", {"timezone": too_long, "sink": SINK})
            )
        )
    ) == ["spec.timezone"]


# -- ApiServerSource -------------------------------------------------------------------------


def test_apiserversource_field_rules() -> None:
    spec = {
        "resources": [{"apiVersion": "a/b/c", "kind": "Pod"}],
        "serviceAccountName": "Not_A_Name",
        "sink": SINK,
    }
    found = field_errors(
        lambda: apiserversource.parse_apiserversource(obj("ApiServerSource", spec))
    )
    assert found["spec.resources[0].apiVersion"] == "expected group/version, got 'a/b/c'"
    assert found["spec.serviceAccountName"].startswith("invalid value 'Not_A_Name': ")
    assert set(found) == {"spec.resources[0].apiVersion", "spec.serviceAccountName"}


def test_apiserversource_owner_filter() -> None:
    spec: dict[str, Any] = {"resources": RESOURCES, "sink": SINK}
    parsed = apiserversource.parse_apiserversource(obj("ApiServerSource", spec))
    assert parsed.spec.owner_filter is None
    spec["owner"] = {"apiVersion": "apps/v1", "kind": "ReplicaSet"}
    parsed = apiserversource.parse_apiserversource(obj("ApiServerSource", spec))
    assert parsed.spec.owner_filter == ("apps/v1", "ReplicaSet")


def test_apiserversource_status_lists_the_namespaces() -> None:
    schema = sources.APISERVERSOURCE.schema
    assert schema is not None
    namespaces = schema["properties"]["status"]["properties"]["namespaces"]
    assert namespaces["type"] == "array"
    assert namespaces["items"]["type"] == "string"


# -- ContainerSource -------------------------------------------------------------------------


def test_containersource_stores_the_template_as_written() -> None:
    """The Pod's own defaults are not written into the source (the Pod gets them when it is
    made), as Knative stores a ContainerSource; container names are defaulted."""
    raw = obj("ContainerSource", {"template": TEMPLATE, "sink": SINK})
    stored = sources.CONTAINERSOURCE.default(raw)
    assert stored["spec"]["template"] == {
        "spec": {"containers": [{"image": "ghcr.io/x/heartbeats", "name": "src-0"}]}
    }
    parsed = containersource.parse_containersource(raw)
    assert parsed.spec.template.spec.restart_policy == "Always"
    assert parsed.spec.template.spec.containers[0].pull_policy == "Always"  # untagged image
    schema = sources.CONTAINERSOURCE.schema
    assert schema is not None
    pod = schema["properties"]["spec"]["properties"]["template"]["properties"]["spec"]
    assert "default" not in pod["properties"]["restartPolicy"]


def test_containersource_template_is_a_pod_template() -> None:
    template = {
        "metadata": {"labels": {"app": 1}},
        "spec": {"containers": [{"image": "i", "volumeMounts": [{"name": "v", "mountPath": "/"}]}]},
        "extra": True,
    }
    found = field_errors(
        lambda: containersource.parse_containersource(
            obj("ContainerSource", {"template": template, "sink": SINK})
        )
    )
    assert found == {
        "spec.template.extra": "unknown field; expected one of metadata, spec",
        "spec.template.metadata.labels[app]": "expected a string, got a number (quote it in YAML)",
        "spec.template.spec.containers[0].volumeMounts[0].name": "not found: no volume 'v'",
    }
    assert field_errors(
        lambda: containersource.parse_containersource(obj("ContainerSource", {"sink": SINK}))
    ) == {"spec.template": "required field is missing"}


# -- SinkBinding -----------------------------------------------------------------------------


def binding(subject: dict[str, Any]) -> sinkbinding.SinkBinding:
    return sinkbinding.parse_sinkbinding(obj("SinkBinding", {"subject": subject, "sink": SINK}))


def test_sinkbinding_subject_rules() -> None:
    neither = {"apiVersion": "apps/v1", "kind": "Deployment"}
    assert field_errors(lambda: binding(neither)) == {
        "spec.subject": "expected exactly one of name or selector, got neither"
    }
    assert field_errors(lambda: binding({**neither, "name": ""})) == {
        "spec.subject": "expected exactly one of name or selector, got neither"
    }
    assert field_errors(lambda: binding({"name": "d"})) == {
        "spec.subject.apiVersion": "required field is missing",
        "spec.subject.kind": "required field is missing",
    }
    by_name = binding(SUBJECT)
    assert (by_name.spec.subject.name, by_name.spec.subject.selector) == ("p", None)
