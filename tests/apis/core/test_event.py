from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis import core
from kawa.apis.core import event
from kawa.apis.core.references import ObjectReference
from kawa.apis.kinds import PrinterColumn

from ..helpers import field_errors


def ev(**extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "busybox.17a8b3c4d5e6f7a8", "namespace": "default"},
        "involvedObject": {
            "kind": "Pod",
            "namespace": "default",
            "name": "busybox",
            "uid": "u-1",
            "apiVersion": "v1",
            "resourceVersion": "42",
            "fieldPath": "spec.containers{busybox}",
        },
        "reason": "Started",
        "message": "Started container busybox",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-05-01T12:00:00Z",
        "lastTimestamp": "2024-05-01T12:05:00Z",
        "count": 3,
        "type": "Normal",
        **extra,
    }


def column(name: str) -> PrinterColumn:
    return next(c for c in core.EVENT.printer_columns if c.name == name)


def cell(name: str, obj: dict[str, Any]) -> Any:
    col = column(name)
    assert col.value is not None
    return col.value(obj)


def test_event_with_a_dotted_name_parses() -> None:
    parsed = event.parse_event(ev())
    assert parsed.name == "busybox.17a8b3c4d5e6f7a8"
    assert parsed.involved_object == ObjectReference(
        kind="Pod",
        namespace="default",
        name="busybox",
        uid="u-1",
        api_version="v1",
        resource_version="42",
        field_path="spec.containers{busybox}",
    )
    assert (parsed.reason, parsed.type, parsed.count) == ("Started", "Normal", 3)
    assert parsed.source == event.EventSource(component="kubelet", host="node-1")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (ev(type="Info"), {"type": "must be one of Normal, Warning, got 'Info'"}),
        (ev(count=-1), {"count": "invalid value -1: must be greater than or equal to 0"}),
        (ev(count="3"), {"count": "expected an integer, got a string"}),
        (
            ev(involvedObject={"kind": "Pod", "name": "p", "namespace": "other"}),
            {"involvedObject.namespace": "invalid value 'other': does not match event.namespace"},
        ),
        (ev(involvedObject=None), {"involvedObject": "required field is missing"}),
        (
            ev(source={"component": 1}),
            {"source.component": "expected a string, got a number (quote it in YAML)"},
        ),
        (ev(series={"count": "x"}), {"series.count": "expected an integer, got a string"}),
        (
            ev(firstTimestamp="yesterday"),
            {"firstTimestamp": "expected an RFC 3339 date-time, got 'yesterday'"},
        ),
        (ev(related={"kind": "Pod", "nam": "p"}), {"related.nam": "unknown field; expected one"}),
    ],
)
def test_invalid_events(obj: dict[str, Any], expected: dict[str, str]) -> None:
    if obj.get("involvedObject") is None:
        obj.pop("involvedObject", None)
    found = field_errors(lambda: core.EVENT.validate(obj))
    assert found.keys() == expected.keys()
    for path, start in expected.items():
        assert found[path].startswith(start)


def test_columns_like_kubectl() -> None:
    obj = ev()
    assert cell("Object", obj) == "pod/busybox"
    assert cell("Last Seen", obj) == "2024-05-01T12:05:00Z"
    assert cell("First Seen", obj) == "2024-05-01T12:00:00Z"
    assert cell("Subobject", obj) == "spec.containers{busybox}"
    assert cell("Source", obj) == "kubelet, node-1"
    assert cell("Count", obj) == 3
    assert column("Type").json_path == ".type"
    assert column("Reason").json_path == ".reason"
    assert column("Message").json_path == ".message"
    assert column("Last Seen").type == "date"


def test_columns_of_new_style_events() -> None:
    obj = ev()
    for key in ("source", "firstTimestamp", "lastTimestamp", "count"):
        del obj[key]
    obj |= {
        "eventTime": "2024-05-01T12:00:00.123456Z",
        "reportingComponent": "kawa-controller",
        "reportingInstance": "kawa-1",
    }
    assert cell("Last Seen", obj) == "2024-05-01T12:00:00Z"
    assert cell("Source", obj) == "kawa-controller, kawa-1"
    assert cell("Count", obj) == 1
    obj["series"] = {"count": 7, "lastObservedTime": "2024-05-01T12:09:00.5Z"}
    assert cell("Last Seen", obj) == "2024-05-01T12:09:00Z"
    assert cell("Count", obj) == 7
    assert cell("Source", {"source": {"component": "kubelet"}}) == "kubelet"


def test_conversion_to_events_k8s_io_and_back() -> None:
    obj = ev(eventTime="2024-05-01T12:00:00.000000Z", action="Start", reportingComponent="kubelet")
    original = copy.deepcopy(obj)
    new = core.EVENT.to_version(obj, "events.k8s.io/v1")
    assert obj == original
    assert new["apiVersion"] == "events.k8s.io/v1"
    assert new["regarding"] == original["involvedObject"]
    assert new["note"] == "Started container busybox"
    assert new["reportingController"] == "kubelet"
    assert new["deprecatedSource"] == {"component": "kubelet", "host": "node-1"}
    assert new["deprecatedCount"] == 3
    assert new["deprecatedFirstTimestamp"] == "2024-05-01T12:00:00Z"
    assert new["deprecatedLastTimestamp"] == "2024-05-01T12:05:00Z"
    assert (new["reason"], new["type"], new["action"]) == ("Started", "Normal", "Start")
    for old_name in ("involvedObject", "message", "source", "count", "firstTimestamp"):
        assert old_name not in new
    assert core.EVENT.to_version(new, "v1") == original
    assert event.convert_event(original, "v1") == original


def test_events_k8s_io_event_converts_to_a_valid_core_event() -> None:
    new = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "x.1", "namespace": "default"},
        "eventTime": "2024-05-01T12:00:00.000000Z",
        "regarding": {"kind": "Broker", "name": "default", "namespace": "default"},
        "note": "hello",
        "reason": "Ready",
        "type": "Warning",
        "reportingController": "kawa",
        "reportingInstance": "kawa-1",
        "action": "Reconcile",
    }
    old = event.convert_event(new, "v1")
    parsed = event.parse_event(old)
    assert (parsed.message, parsed.reporting_component, parsed.involved_object.kind) == (
        "hello",
        "kawa",
        "Broker",
    )
    with pytest.raises(ValueError, match="not served"):
        event.convert_event(new, "events.k8s.io/v1beta1")
