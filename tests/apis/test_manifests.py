from __future__ import annotations

import pytest

from kawa.apis.manifests import load_manifests
from kawa.errors import ValidationError

from .helpers import field_errors

TWO_DOCS = """\
# the tutorial
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
---
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: t
  annotations:
    created: 2020-01-01T00:00:00Z
spec:
  broker: default
  subscriber:
    uri: http://example.com/
...
"""


def test_multi_document_with_empty_documents() -> None:
    objects = load_manifests(TWO_DOCS, "seed.yaml")
    assert [o["kind"] for o in objects] == ["Broker", "Trigger"]
    # timestamps stay strings: every object is plain JSON
    assert objects[1]["metadata"]["annotations"]["created"] == "2020-01-01T00:00:00Z"


def test_empty_text() -> None:
    assert load_manifests("", "empty.yaml") == []
    assert load_manifests("---\n# nothing\n", "empty.yaml") == []


def test_list_items_are_expanded() -> None:
    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: eventing.knative.dev/v1
  kind: Broker
  metadata: {name: a}
- apiVersion: eventing.knative.dev/v1
  kind: Broker
  metadata: {name: b}
"""
    assert [o["metadata"]["name"] for o in load_manifests(text, "list.yaml")] == ["a", "b"]


def test_every_malformed_document_is_reported() -> None:
    text = """\
- just
- a list
---
kind: Broker
metadata:
  name: x
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {}
---
apiVersion: 5
kind: Broker
metadata: []
"""
    errors = field_errors(lambda: load_manifests(text, "bad.yaml"))
    assert errors == {
        "[0]": "expected a mapping with apiVersion, kind and metadata, got a list "
        "(document at line 1)",
        "[1].apiVersion": "required field is missing (document at line 4)",
        "[2].items[0].metadata.name": "required field is missing (document at line 8)",
        "[3].apiVersion": "expected a string (document at line 15)",
        "[3].metadata": "expected a mapping (document at line 15)",
    }


def test_syntax_errors_name_file_line_and_column() -> None:
    text = "apiVersion: v1\nkind: Broker\nmetadata:\n  name: [unclosed\n"
    with pytest.raises(ValidationError) as info:
        load_manifests(text, "broken.yaml")
    assert info.value.subject == "broken.yaml"
    (error,) = info.value.errors
    assert error.message.startswith("YAML syntax error at line 5, column 1:")
    assert "broken.yaml is invalid: YAML syntax error at line 5" in str(info.value)


def test_tab_indentation_error() -> None:
    with pytest.raises(
        ValidationError, match=r"broken\.yaml is invalid: YAML syntax error at line 2"
    ):
        load_manifests("a: 1\n\tb: 2\n", "broken.yaml")


def test_nesting_past_the_limit_names_the_limit_path_and_line() -> None:
    """PyYAML's composer recurses: the loader stops at the nesting limit (the same for every
    document kawa reads), so even 20,000 levels are a clear error, not a RecursionError."""
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
    fits = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndeep: " + "[" * 199 + "]" * 199
    assert len(load_manifests(head + fits, "ok.yaml")) == 2
    for levels in (200, 20_000):
        text = head + "deep:\n  k: " + "[" * levels + "]" * levels + "\n"
        with pytest.raises(ValidationError) as info:
            load_manifests(text, "deep.yaml")
        (error,) = info.value.errors
        assert error.path == "[1].deep.k" + "[0]" * 198
        assert error.message == "nested too deeply (more than 199 levels) (at line 6, column 204)"
