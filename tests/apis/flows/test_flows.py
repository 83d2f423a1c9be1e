from __future__ import annotations

from typing import Any

import pytest

from kawa.apis.duck import DeliverySpec, Destination, KReference
from kawa.apis.flows import parallel, sequence

from ..helpers import field_errors

V1 = "flows.knative.dev/v1"
SVC = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "s"}


def obj(kind: str, spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": V1,
        "kind": kind,
        "metadata": {"name": "f", "namespace": "ns"},
        "spec": spec,
    }


def test_sequence() -> None:
    seq = sequence.parse_sequence(
        obj(
            "Sequence",
            {
                "steps": [{"ref": SVC}, {"uri": "http://b/", "delivery": {"retry": 3}}],
                "reply": {"ref": SVC},
            },
        )
    )
    assert seq.steps[0].destination == Destination(
        ref=KReference(
            api_version="serving.knative.dev/v1", kind="Service", name="s", namespace="ns"
        )
    )
    assert seq.steps[1].delivery == DeliverySpec(retry=3)
    assert seq.channel_template.kind == "InMemoryChannel"
    defaulted = sequence.default_sequence(obj("Sequence", {"steps": [{"ref": SVC}]}))
    assert defaulted["spec"]["steps"][0]["ref"]["namespace"] == "ns"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"steps": []}, {"spec.steps": "required field is missing (a non-empty list)"}),
        ({"steps": [{}]}, {"spec.steps[0]": "expected at least one of ref or uri, got neither"}),
        (
            {"steps": [{"uri": "rel", "extra": 1}]},
            {
                "spec.steps[0].extra": "unknown field; expected one of ref, uri, delivery",
                "spec.steps[0].uri": "must be an absolute URL (scheme and host) when there is no ref, got 'rel'",  # noqa: E501
            },
        ),
        (
            {"steps": [{"uri": "http://a/"}], "channelTemplate": {"apiVersion": "x/v1"}},
            {"spec.channelTemplate.kind": "required field is missing"},
        ),
    ],
)
def test_invalid_sequences(spec: Any, expected: dict[str, str]) -> None:
    assert field_errors(lambda: sequence.parse_sequence(obj("Sequence", spec))) == expected


def test_parallel() -> None:
    par = parallel.parse_parallel(
        obj(
            "Parallel",
            {
                "branches": [
                    {"filter": {"uri": "http://f/"}, "subscriber": {"ref": SVC}},
                    {"subscriber": {"uri": "http://s/"}, "reply": {"uri": "http://r/"}},
                ]
            },
        )
    )
    assert par.branches[0].filter == Destination(uri="http://f/")
    assert par.branches[1].reply == Destination(uri="http://r/")
    assert par.branches[0].subscriber.ref is not None
    assert par.branches[0].subscriber.ref.namespace == "ns"
    errors = field_errors(
        lambda: parallel.parse_parallel(
            obj("Parallel", {"branches": [{"filter": {"uri": "http://f/"}}]})
        )
    )
    assert errors == {"spec.branches[0].subscriber": "required field is missing"}
    assert field_errors(lambda: parallel.parse_parallel(obj("Parallel", None))) == {
        "spec.branches": "required field is missing (a non-empty list)"
    }
