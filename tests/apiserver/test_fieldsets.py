"""Field sets (``fieldsV1``) and the merge, compare and removal under server-side apply."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kawa.apiserver import fieldsets as fs

TYPES = fs.ListTypes.of({"spec.containers": "name", "spec.containers[].env": "name"})

POD: dict[str, Any] = {
    "metadata": {"labels": {"app": "a"}, "finalizers": ["x/y"]},
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "i:1",
                "args": ["a", "b"],
                "env": [{"name": "E", "value": "1"}],
            }
        ],
        "nodeSelector": {},
    },
}


def _f(*names: str) -> fs.Path:
    return tuple(("f", n) for n in names)


APP = ("k", '{"name":"app"}')


def test_fields_of_an_applied_configuration() -> None:
    found = fs.fields_of(POD, TYPES)
    assert found == {
        _f("metadata", "labels", "app"),
        (*_f("metadata", "finalizers"), ("v", '"x/y"')),
        (*_f("spec", "containers"), APP),
        (*_f("spec", "containers"), APP, ("f", "name")),
        (*_f("spec", "containers"), APP, ("f", "image")),
        (*_f("spec", "containers"), APP, ("f", "args")),  # atomic
        (*_f("spec", "containers"), APP, ("f", "env"), ("k", '{"name":"E"}')),
        (*_f("spec", "containers"), APP, ("f", "env"), ("k", '{"name":"E"}'), ("f", "name")),
        (*_f("spec", "containers"), APP, ("f", "env"), ("k", '{"name":"E"}'), ("f", "value")),
        _f("spec", "nodeSelector"),  # an empty map is a member
    }


def test_encode_in_kubernetes_format() -> None:
    encoded = fs.encode(fs.fields_of(POD, TYPES))
    assert encoded["f:spec"]["f:containers"]['k:{"name":"app"}'] == {
        ".": {},
        "f:args": {},
        "f:env": {'k:{"name":"E"}': {".": {}, "f:name": {}, "f:value": {}}},
        "f:image": {},
        "f:name": {},
    }
    assert encoded["f:metadata"]["f:finalizers"] == {'v:"x/y"': {}}
    assert list(encoded) == ["f:metadata", "f:spec"]
    assert fs.decode(encoded) == fs.fields_of(POD, TYPES)


def test_path_text_as_kubernetes_prints_it() -> None:
    path = (*_f("spec", "containers"), APP, ("f", "image"))
    assert fs.path_text(path) == '.spec.containers[name="app"].image'
    assert fs.path_text((*_f("metadata", "finalizers"), ("v", '"x/y"'))) == (
        '.metadata.finalizers[="x/y"]'
    )
    assert fs.path_text((*_f("spec", "x"), ("i", 2))) == ".spec.x[2]"


@pytest.mark.parametrize(
    "bad",
    [[], {"x:y": {}}, {"f:a": 1}, {"k:[1]": {}}, {"k:{": {}}, {"i:x": {}}, {"f:a": {".": 1}}],
)
def test_decode_refuses_what_is_no_field_set(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"."):
        fs.decode(bad)


def test_compare() -> None:
    old = {"spec": {"a": 1, "b": {"c": 2}, "containers": [{"name": "app", "image": "x"}]}}
    new = {
        "spec": {
            "a": 2,
            "d": {"e": 3},
            "containers": [{"name": "app", "image": "y"}, {"name": "side"}],
        }
    }
    c = fs.compare(old, new, TYPES)
    side = (*_f("spec", "containers"), ("k", '{"name":"side"}'))
    assert c.modified == {_f("spec", "a"), (*_f("spec", "containers"), APP, ("f", "image"))}
    assert c.added == {_f("spec", "d"), _f("spec", "d", "e"), side, (*side, ("f", "name"))}
    assert c.removed == {_f("spec", "b"), _f("spec", "b", "c")}


def test_merge_granular_and_atomic_lists() -> None:
    live = {
        "spec": {
            "containers": [{"name": "a", "image": "1", "args": ["x"]}, {"name": "b"}],
            "keep": 1,
        }
    }
    config = {"spec": {"containers": [{"name": "b", "image": "2"}, {"name": "c"}], "keep": None}}
    assert fs.merge(live, config, TYPES) == {
        "spec": {
            "containers": [
                {"name": "a", "image": "1", "args": ["x"]},
                {"name": "b", "image": "2"},
                {"name": "c"},
            ]
        }
    }
    # a list whose items cannot be told apart (a missing key) is atomic
    assert fs.merge(live, {"spec": {"containers": [{"image": "z"}]}}, TYPES)["spec"][
        "containers"
    ] == [{"image": "z"}]


def test_remove_keeps_what_others_own_and_drops_emptied_maps() -> None:
    obj = {"spec": {"a": 1, "b": {"c": 2}, "containers": [{"name": "app", "image": "x"}]}}
    item = (*_f("spec", "containers"), APP)
    gone = {_f("spec", "a"), _f("spec", "b", "c"), item, (*item, ("f", "name"))}
    kept = {(*item, ("f", "image"))}
    assert fs.remove(obj, gone, kept, TYPES) == {
        "spec": {"containers": [{"name": "app", "image": "x"}]}
    }
    assert fs.remove(obj, gone, set(), TYPES) == {"spec": {"containers": []}}


# -- properties ----------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=6)
elements = st.one_of(
    st.tuples(st.just("f"), st.text(max_size=6)),
    st.builds(
        lambda d: ("k", fs._json(d)),
        st.dictionaries(st.text(max_size=4), scalars, min_size=1, max_size=2),
    ),
    st.builds(lambda v: ("v", fs._json(v)), scalars),
    st.tuples(st.just("i"), st.integers(min_value=0, max_value=99)),
)
field_sets = st.frozensets(st.lists(elements, min_size=1, max_size=4).map(tuple), max_size=12)

names = st.sampled_from(["spec", "containers", "name", "image", "env", "a", "b"])
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=15,
)
objects = st.dictionaries(names, json_values, max_size=4)


@given(field_sets)
def test_encoding_round_trip(fields: frozenset[fs.Path]) -> None:
    assert fs.decode(fs.encode(fields)) == fields
    assert fs.encode(fs.decode(fs.encode(fields))) == fs.encode(fields)


@given(field_sets, field_sets, field_sets, st.data())
def test_editing_the_tree_is_the_set_difference_and_union(
    fields: frozenset[fs.Path],
    other: frozenset[fs.Path],
    added: frozenset[fs.Path],
    data: st.DataObject,
) -> None:
    mine = sorted(fields | {p[:i] for p in fields for i in range(1, len(p))}, key=repr)
    gone = set(other)
    if mine:
        gone |= data.draw(st.sets(st.sampled_from(mine)))
        added |= data.draw(st.frozensets(st.sampled_from(mine)))
    tree = fs.encode(fields)
    before = fs.encode(fields)
    edited = fs.edit(tree, gone, added)
    assert edited == fs.encode((fields - gone) | added)
    assert orjson.dumps(edited) == orjson.dumps(fs.encode((fields - gone) | added))  # order
    assert tree == before  # not changed in place


@given(objects, objects)
def test_compare_and_merge_agree(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert fs.compare(old, old, TYPES).empty()
    c = fs.compare(old, new, TYPES)
    assert not (c.added & c.removed)
    merged = fs.merge(old, new, TYPES)
    # what a configuration sets is in the merge with its value
    assert fs.compare(merged, fs.merge(merged, new, TYPES), TYPES).empty()


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    if isinstance(value, list):
        return [s for v in value for s in _scalars(v)]
    return [value]


@given(objects)
def test_removing_everything_applied_leaves_no_value(obj: dict[str, Any]) -> None:
    assert _scalars(fs.remove(obj, fs.fields_of(obj, TYPES), set(), TYPES)) == []
    assert fs.remove(obj, fs.fields_of(obj, TYPES), fs.fields_of(obj, TYPES), TYPES) == obj
