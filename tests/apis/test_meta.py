from __future__ import annotations

from typing import Any

import pytest

from kawa.apis import meta
from kawa.errors import FieldError


@pytest.mark.parametrize("name", ["a", "default", "my-broker", "a.b.c", "1abc", "x" * 253])
def test_valid_object_names(name: str) -> None:
    assert meta.validate_metadata({"name": name}) == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("My-Broker", "lowercase RFC 1123 subdomain"),
        ("-a", "start and end with an alphanumeric"),
        ("a_b", "lowercase RFC 1123 subdomain"),
        ("a..b", "lowercase RFC 1123 subdomain"),
        ("x" * 254, "no more than 253 characters"),
    ],
)
def test_invalid_object_names(name: str, fragment: str) -> None:
    (error,) = meta.validate_metadata({"name": name})
    assert error.path == "metadata.name"
    assert fragment in error.message
    assert repr(name) in error.message


def test_missing_name_and_wrong_metadata_type() -> None:
    assert meta.validate_metadata({}) == [FieldError("metadata.name", "required field is missing")]
    assert meta.validate_metadata([]) == [FieldError("metadata", "expected a mapping, got a list")]
    assert meta.validate_metadata({"name": 5}) == [
        FieldError("metadata.name", "expected a string, got a number")
    ]


@pytest.mark.parametrize(
    ("namespace", "ok"),
    [("default", True), ("kn-ns1", True), ("a.b", False), ("Default", False), ("x" * 64, False)],
)
def test_namespace_is_a_dns1123_label(namespace: str, ok: bool) -> None:
    errors = meta.validate_metadata({"name": "a", "namespace": namespace})
    assert (errors == []) is ok
    assert all(e.path == "metadata.namespace" for e in errors)


def test_cluster_scoped_kinds_reject_a_namespace() -> None:
    (error,) = meta.validate_metadata({"name": "a", "namespace": "x"}, namespaced=False)
    assert error.path == "metadata.namespace"
    assert "not namespaced" in error.message


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"app": "x", "eventing.knative.dev/broker": "default", "e": ""}, {}),
        (
            {"app": 5},
            {"metadata.labels[app]": "expected a string, got a number (quote it in YAML)"},
        ),
        ("app=x", {"metadata.labels": "expected a map of strings, got a string"}),
        ({"bad key!": "x"}, {"metadata.labels": "invalid key 'bad key!'"}),
        ({"Bad_Prefix/x": "y"}, {"metadata.labels": "prefix part"}),
        ({"app": "-x"}, {"metadata.labels[app]": "invalid value '-x'"}),
        ({"app": "x" * 64}, {"metadata.labels[app]": "invalid value"}),
    ],
)
def test_labels(labels: Any, expected: dict[str, str]) -> None:
    errors = meta.validate_metadata({"name": "a", "labels": labels})
    assert {e.path for e in errors} == set(expected)
    for error in errors:
        assert expected[error.path] in error.message


def test_annotations_are_string_maps_with_qualified_keys() -> None:
    assert meta.validate_metadata({"name": "a", "annotations": {"k/v": "any value at all!"}}) == []
    errors = meta.validate_metadata({"name": "a", "annotations": {"k": True, 3: "x"}})
    assert (
        FieldError("metadata.annotations[k]", "expected a string, got a boolean (quote it in YAML)")
        in errors
    )
    assert any(
        e.path == "metadata.annotations" and "keys must be strings" in e.message for e in errors
    )


def test_readers_record_problems() -> None:
    errors: list[FieldError] = []
    assert meta.read_str({"a": "x"}, "a", "p.a", errors) == "x"
    assert meta.read_str({}, "a", "p.a", errors) is None
    assert errors == []
    assert meta.read_str({"a": ""}, "a", "p.a", errors, required=True) is None
    assert meta.read_str({"a": []}, "a", "p.b", errors) is None
    assert errors == [
        FieldError("p.a", "required field is missing"),
        FieldError("p.b", "expected a string, got a list"),
    ]


def test_object_helpers() -> None:
    obj = {"metadata": {"name": "n", "annotations": {"a": "b", "c": 1}}}
    assert meta.namespace_of(obj) == "default"
    assert meta.namespace_of({"metadata": {"namespace": "x"}}) == "x"
    assert meta.annotations_of(obj) == {"a": "b"}
    assert meta.subject_of("Trigger", obj) == "Trigger default/n"
    assert meta.subject_of("Trigger", {}) == "Trigger default/?"
    status: dict[str, Any] = {}
    meta.set_observed_generation(status, 3)
    assert status == {"observedGeneration": 3}


def test_json_value_errors_name_each_place_that_is_no_json() -> None:
    deep: Any = {}
    cursor = deep
    for _ in range(meta.MAX_NESTING + 1):
        cursor["x"] = {}
        cursor = cursor["x"]
    value = {
        "a": [1.5, float("nan")],
        "b": {"c": 2**63, "d": -(2**63), "e": float("-inf")},
        "f": {1: "x"},
        "g": {"a", "b"},
        "deep": deep,
        "fine": [None, True, "s", 0],
    }
    found = {e.path: e.message for e in meta.json_value_errors(value, "spec")}
    assert found.pop("spec.deep" + ".x" * meta.MAX_NESTING).startswith("nested too deeply")
    assert found.pop("spec.g").startswith("expected JSON data (string, number, boolean")
    assert found == {
        "spec.a[1]": "expected a finite number, got nan",
        "spec.b.c": "invalid value: an integer must fit in 64 bits (int64)",
        "spec.b.e": "expected a finite number, got -inf",
        "spec.f": "map keys must be strings, got 1",
    }
    assert meta.json_value_errors({"ok": [{"n": 2**63 - 1}]}) == []


def test_child_names_stay_valid_and_distinct_whatever_the_suffix() -> None:
    from kawa.apis.meta import child_name, dns1123_label_errors

    assert child_name("svc", "-00001") == "svc-00001"
    long_parent = child_name("x" * 60, "-00001")
    assert len(long_parent) == 63
    assert long_parent.endswith("-00001")
    # a suffix that leaves no room for the parent's hash: parent and suffix hashed together
    names = {child_name(f"policy-{i}-", "c" * 63) for i in range(20)}
    assert len(names) == 20
    flow = child_name("s" * 46, "-ep-" + "s" * 46 + "-kn-sequence-1")
    for name in (*names, flow, long_parent):
        assert len(name) <= 63
        assert dns1123_label_errors(name) == [], name
