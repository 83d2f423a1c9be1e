"""managedFields bookkeeping of updates and server-side apply (the pure core)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kawa.apiserver import fieldsets as fs
from kawa.apiserver import managed_fields as mf
from kawa.apiserver.status import ApplyConflictError, status_of
from kawa.errors import ValidationError

SHAPE = mf.Shape(fs.ListTypes.of({"spec.ports": "port"}), False, lambda o, v: dict(o))
STATUS_SHAPE = mf.Shape(fs.ListTypes.of({}), True, lambda o, v: dict(o))


def _at(manager: str, time: str = "2026-01-01T00:00:00Z", sub: str = "") -> mf.Write:
    return mf.Write(manager, "v1", time, sub)


def _cm(managed: Any = None, **data: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "c", "namespace": "d", "resourceVersion": "5", "uid": "u"}
    if managed is not None:
        meta["managedFields"] = managed
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def _fields(obj_or_entries: Any) -> dict[tuple[str, str], Any]:
    entries = obj_or_entries
    if isinstance(obj_or_entries, dict):
        entries = obj_or_entries["metadata"].get("managedFields", [])
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in entries}


def test_a_create_records_what_it_set() -> None:
    entries = mf.record(None, _cm(a="1"), _at("kubectl-create"), SHAPE)
    assert entries == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2026-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:a": {}}},
        }
    ]


def test_an_update_takes_fields_from_other_managers() -> None:
    first = _cm(mf.record(None, _cm(a="1", b="2"), _at("one"), SHAPE), a="1", b="2")
    entries = mf.record(first, _cm(a="9", c="3"), _at("two", "2026-01-02T00:00:00Z"), SHAPE)
    found = _fields(entries)
    assert found[("one", "Update")] == {"f:data": {}}  # it still owns the map it made
    assert found[("two", "Update")] == {"f:data": {"f:a": {}, "f:c": {}}}
    # nothing changed: same entries, same times
    second = _cm(entries, a="9", c="3")
    assert mf.record(second, second, _at("two", "2026-01-03T00:00:00Z"), SHAPE) == entries


def test_given_managed_fields_are_taken_and_reset_clears_them() -> None:
    live = _cm(mf.record(None, _cm(a="1"), _at("one"), SHAPE), a="1")
    assert mf.record(live, _cm([{}], a="1"), _at("two"), SHAPE) == []
    mine = [{"manager": "x", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {}}]
    assert [e["manager"] for e in mf.record(live, _cm(mine, a="1"), _at("two"), SHAPE)] == []
    with pytest.raises(ValidationError, match=r"metadata.managedFields\[0\]: operation"):
        mf.record(live, _cm([{"operation": "Delete"}], a="1"), _at("two"), SHAPE)


def test_status_writes_have_their_own_entry() -> None:
    old = {"metadata": {"name": "b"}, "spec": {"x": 1}}
    main = mf.record(None, old, _at("kubectl"), STATUS_SHAPE)
    live = {**old, "metadata": {"name": "b", "managedFields": main}}
    written = {**live, "status": {"ready": True}}
    entries = mf.record(live, written, _at("controller", sub="status"), STATUS_SHAPE)
    by_manager = {e["manager"]: e for e in entries}
    assert by_manager["controller"]["subresource"] == "status"
    assert by_manager["controller"]["fieldsV1"] == {"f:status": {".": {}, "f:ready": {}}}
    assert by_manager["kubectl"] == main[0]


def test_apply_prunes_conflicts_and_forces() -> None:
    created = mf.apply(None, _cm(a="1", b="2"), _at("alice"), SHAPE, force=False)
    assert _fields(created) == {("alice", "Apply"): {"f:data": {"f:a": {}, "f:b": {}}}}
    shared = mf.apply(created, _cm(b="2", c="3"), _at("bob"), SHAPE, force=False)
    assert shared["data"] == {"a": "1", "b": "2", "c": "3"}
    pruned = mf.apply(shared, _cm(a="1"), _at("alice"), SHAPE, force=False)
    assert pruned["data"] == {"a": "1", "b": "2", "c": "3"}  # b is bob's too
    pruned = mf.apply(pruned, _cm(c="3"), _at("bob"), SHAPE, force=False)
    assert pruned["data"] == {"a": "1", "c": "3"}
    with pytest.raises(ApplyConflictError) as caught:
        mf.apply(pruned, _cm(a="2", c="4"), _at("carol"), SHAPE, force=False)
    assert str(caught.value) == (
        'Apply failed with 2 conflicts: conflicts with "alice":\n- .data.a\n'
        'conflicts with "bob":\n- .data.c'
    )
    status = status_of(caught.value)
    assert (status["code"], status["reason"]) == (409, "Conflict")
    assert status["details"]["causes"][0] == {
        "reason": "FieldManagerConflict",
        "message": 'conflict with "alice"',
        "field": ".data.a",
    }
    forced = mf.apply(pruned, _cm(a="2"), _at("carol"), SHAPE, force=True)
    assert _fields(forced) == {
        ("bob", "Apply"): {"f:data": {"f:c": {}}},
        ("carol", "Apply"): {"f:data": {"f:a": {}}},
    }


def test_apply_keyed_list_items_and_update_conflict_wording() -> None:
    svc = {"apiVersion": "v1", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    live = {
        **svc,
        "metadata": {"name": "s", "managedFields": mf.record(None, svc, _at("edit"), SHAPE)},
    }
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "name": "h"}]},
    }
    merged = mf.apply(live, config, _at("ssa"), SHAPE, force=False)
    assert merged["spec"]["ports"] == [{"port": 80, "name": "h"}]
    config["spec"]["ports"] = [{"port": 81}]
    merged = mf.apply(merged, config, _at("ssa"), SHAPE, force=False)
    assert merged["spec"]["ports"] == [{"port": 80}, {"port": 81}]  # 80 is edit's
    config["spec"] = {"type": "x"}
    with pytest.raises(ApplyConflictError, match=r'conflict with "edit" using v1: \.spec$'):
        mf.apply({**merged, "spec": 5}, config, _at("ssa"), SHAPE, force=False)


def test_apply_syncs_kubectls_last_applied_annotation() -> None:
    live = _cm(a="1")
    live["metadata"]["annotations"] = {mf.LAST_APPLIED: "{}"}
    merged = mf.apply(live, _cm(b="2"), _at("kubectl"), SHAPE, force=False)
    assert '"b":"2"' in merged["metadata"]["annotations"][mf.LAST_APPLIED]
    other = mf.apply(live, _cm(b="2"), _at("helm"), SHAPE, force=False)
    assert other["metadata"]["annotations"][mf.LAST_APPLIED] == "{}"


def test_update_managers_are_capped() -> None:
    live = _cm()
    for i in range(mf.MAX_UPDATE_MANAGERS + 3):
        new = _cm(live["metadata"].get("managedFields"), **{**live["data"], f"k{i}": "v"})
        entries = mf.record(live, new, _at(f"m{i}", f"2026-01-01T00:00:{i:02}Z"), SHAPE)
        live = _cm(entries, **new["data"])
    managers = [e["manager"] for e in live["metadata"]["managedFields"]]
    assert len(managers) == mf.MAX_UPDATE_MANAGERS
    assert managers[0] == mf.ANCIENT


configs = st.dictionaries(st.sampled_from("abcd"), st.sampled_from(["1", "2"]), max_size=4).map(
    lambda d: _cm(**d)
)


@given(st.lists(st.tuples(st.sampled_from(["x", "y"]), configs), min_size=1, max_size=6))
def test_forced_applies_own_what_exists(steps: list[tuple[str, dict[str, Any]]]) -> None:
    live: dict[str, Any] | None = None
    for manager, config in steps:
        live = mf.apply(live, config, _at(manager), SHAPE, force=True)
        again = mf.apply(live, config, _at(manager, "2027-01-01T00:00:00Z"), SHAPE, force=False)
        assert again == live  # applying the same again changes nothing, not even times
    assert live is not None
    for owned in _fields(live).values():
        assert {k[2:] for k in owned.get("f:data", {})} <= set(live["data"])
    manager, config = steps[-1]
    assert _fields(live).get((manager, "Apply"), {}) == fs.encode(
        fs.fields_of({"data": config["data"]}, SHAPE.types)
    )
    assert config["data"].items() <= live["data"].items()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.sampled_from(["x", "y"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["metadata", "spec", "ports", "port", "a"]), inner, max_size=3
        )
    ),
    max_leaves=12,
)
any_objects = st.dictionaries(st.sampled_from(["metadata", "spec", "status", "data"]), json_values)


@given(st.none() | any_objects, any_objects, st.booleans())
def test_any_apply_or_update_succeeds_or_conflicts(
    live: dict[str, Any] | None, config: dict[str, Any], force: bool
) -> None:
    assume(live is None or isinstance(live.get("metadata", {}), dict))
    if live is not None:
        live = mf.apply(None, live, _at("first"), SHAPE, force=True)
    if not isinstance(config.get("metadata", {}), dict):
        with pytest.raises(ValidationError, match="metadata: expected an object"):
            mf.apply(live, config, _at("second"), SHAPE, force=force)
        return
    try:
        merged = mf.apply(live, config, _at("second"), SHAPE, force=force)
    except ApplyConflictError:
        assert not force
        return
    assert isinstance(merged["metadata"], dict)
    for shape in (SHAPE, STATUS_SHAPE):
        entries = mf.record(live, merged, _at("third"), shape)
        assert mf.decode(entries) is not None


def _convert(obj: dict[str, Any], version: str) -> dict[str, Any]:
    """v1 calls the field ``size``, v2 ``replicas``."""
    spec = dict(obj.get("spec", {}))
    old, new = ("replicas", "size") if version == "v1" else ("size", "replicas")
    if old in spec:
        spec[new] = spec.pop(old)
    return {**obj, "apiVersion": version, "spec": spec}


def test_managers_at_another_version_are_compared_in_theirs() -> None:
    shape = mf.Shape(fs.ListTypes.of({}), False, _convert)
    created = {"apiVersion": "v1", "metadata": {"name": "x"}, "spec": {"size": 1}}
    live = {
        **created,
        "metadata": {"name": "x", "managedFields": mf.record(None, created, _at("old"), shape)},
    }
    as_v2 = _convert(live, "v2")
    config = {"apiVersion": "v2", "metadata": {"name": "x"}, "spec": {"replicas": 2}}
    v2 = mf.Write("new", "v2", "2026-01-02T00:00:00Z")
    with pytest.raises(ApplyConflictError, match=r'conflict with "old" using v1: \.spec\.size'):
        mf.apply(as_v2, config, v2, shape, force=False)
    forced = mf.apply(as_v2, config, v2, shape, force=True)
    assert _fields(forced) == {
        ("new", "Apply"): {"f:spec": {"f:replicas": {}}},
        ("old", "Update"): {"f:spec": {}},  # the map it created stays its own
    }
