"""Property tests: any JSON body given as a patch, any selector text, fails only with a
ValidationError (the API turns it into a 4xx), never with another exception."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kawa.apis import core
from kawa.apiserver import patch, selectors
from kawa.errors import ValidationError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "metadata",
        "spec",
        "containers",
        "env",
        "name",
        "$patch",
        "$setElementOrder/containers",
        "$deleteFromPrimitiveList/args",
        "$retainKeys",
        "labels",
        "op",
        "path",
        "value",
        "from",
    ]
)
patchy = st.recursive(
    json_values,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)
ops = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"]),
            "path": st.sampled_from(["", "/", "/metadata", "/spec/containers/0", "/spec/-", "a"]),
        },
        optional={"value": json_values, "from": st.sampled_from(["/spec", "/x", "", 5])},
    ),
    max_size=4,
)

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "labels": {"a": "b"}},
    "spec": {"containers": [{"name": "c", "image": "i", "env": [{"name": "X", "value": "1"}]}]},
}


def _only_validation_errors(fn: Any, *args: Any) -> None:
    with contextlib.suppress(ValidationError):
        fn(*args)


@settings(max_examples=300, deadline=None)
@given(patchy)
def test_merge_and_strategic_patches(body: Any) -> None:
    _only_validation_errors(patch.merge_patch, POD, body)
    _only_validation_errors(patch.strategic_merge_patch, POD, body, core.POD.strategic_merge_keys)


@settings(max_examples=300, deadline=None)
@given(st.one_of(ops, json_values))
def test_json_patches(body: Any) -> None:
    _only_validation_errors(patch.json_patch, POD, body)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_selectors(text: str) -> None:
    _only_validation_errors(selectors.label_selector, text)
    _only_validation_errors(selectors.field_selector, text)


def test_strategic_directives_of_any_shape() -> None:
    """No catch-all turns crashes into errors: a directive of the wrong shape is a field
    error, merge keys of any JSON type are ordered like the others."""
    keys = core.POD.strategic_merge_keys
    wrong = {"spec": {"$deleteFromPrimitiveList/args": 5}}
    with pytest.raises(ValidationError) as raised:
        patch.strategic_merge_patch(POD, wrong, keys)
    assert raised.value.errors[0].path == "spec.$deleteFromPrimitiveList/args"
    ordered = {
        "spec": {
            "$setElementOrder/containers": [{"name": ["x"]}, {"name": "c"}],
            "containers": [{"name": ["x"], "image": "j"}],
        }
    }
    merged = patch.strategic_merge_patch(POD, ordered, keys)
    assert [c["name"] for c in merged["spec"]["containers"]] == [["x"], "c"]
    dropped = {"spec": {"containers": [{"name": "c", "$deleteFromPrimitiveList/args": ["b"]}]}}
    pod = copy.deepcopy(POD)
    pod["spec"]["containers"][0]["args"] = ["a", "b"]
    assert patch.strategic_merge_patch(pod, dropped, keys)["spec"]["containers"][0]["args"] == ["a"]
