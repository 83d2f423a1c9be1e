"""The pure parts: event construction, filters, kubeconfig reading, stream names."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from kawa.apis.label_selector import LabelSelector, LabelSelectorRequirement
from kawa.errors import ValidationError
from kawa.sources.apiserver import events
from kawa.sources.apiserver.remote import parse_kubeconfig
from kawa.sources.apiserver.state import stream_id

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"}},
}


def test_reference_event() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    event = events.make_event(
        source="https://k", mode="Reference", change="add", obj=POD, plural="pods", now=moment
    )
    attrs = dict(event.attributes)
    attrs.pop("id")
    assert attrs == {
        "specversion": "1.0",
        "source": "https://k",
        "type": "dev.knative.apiserver.ref.add",
        "subject": "/apis/v1/namespaces/ns/pods/p",
        "time": "2024-01-02T03:04:05.000006Z",
        "datacontenttype": "application/json",
        "kind": "Pod",
        "apiversion": "v1",
        "name": "p",
        "namespace": "ns",
    }
    assert event.data == b'{"kind":"Pod","namespace":"ns","name":"p","apiVersion":"v1"}'


def test_resource_event_of_a_cluster_scoped_object_of_a_group() -> None:
    obj = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "r"},
    }
    event = events.make_event(
        source="s", mode="Resource", change="delete", obj=obj, plural="clusterroles"
    )
    assert event.type == "dev.knative.apiserver.resource.delete"
    assert event.get("subject") == "/apis/rbac.authorization.k8s.io/v1/clusterroles/r"
    assert "namespace" not in event.attributes
    assert orjson.loads(event.data or b"") == obj
    # keys sorted, as Go encodes an unstructured object (the seed tutorial's output shows it)
    assert event.data == orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    assert event.data.index(b'"kind"') < event.data.index(b'"metadata"')
    assert events.event_types("Resource") == (
        "dev.knative.apiserver.resource.add",
        "dev.knative.apiserver.resource.update",
        "dev.knative.apiserver.resource.delete",
    )


def test_selected() -> None:
    selector = LabelSelector(
        match_labels={"app": "web"},
        match_expressions=[LabelSelectorRequirement(key="tier", operator="Exists")],
    )
    assert not events.selected(POD, selector, None)
    with_tier = {**POD, "metadata": {**POD["metadata"], "labels": {"app": "web", "tier": "1"}}}  # type: ignore[dict-item]
    assert events.selected(with_tier, selector, None)
    assert events.selected(POD, None, None)
    owned = {
        **POD,
        "metadata": {
            "name": "p",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet"}],
        },
    }
    assert events.selected(owned, None, ("apps/v1", "ReplicaSet"))
    assert not events.selected(owned, None, ("apps/v1", "Deployment"))
    assert not events.selected(POD, None, ("apps/v1", "ReplicaSet"))


def test_kubeconfig_errors_name_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        parse_kubeconfig("current-context: c\ncontexts: [{name: c, context: {cluster: x}}]\n")
    assert "kubeconfig.clusters" in str(err.value)
    text = (
        "current-context: c\n"
        "contexts: [{name: c, context: {cluster: x, user: u}}]\n"
        "clusters: [{name: x, cluster: {server: 'ftp://nope'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    with pytest.raises(ValidationError) as err:
        parse_kubeconfig(text)
    assert "kubeconfig.clusters[x].cluster.server" in str(err.value)
    good = parse_kubeconfig(text.replace("ftp://nope", "https://h:6443/"))
    assert (good.server, good.token, good.ca_pem) == ("https://h:6443", "t", None)


def test_stream_ids_change_with_the_filters() -> None:
    a = stream_id("v1", "Pod", "ns", None, None)
    assert a == stream_id("v1", "Pod", "ns", None, None)
    assert a != stream_id("v1", "Pod", "ns", LabelSelector(match_labels={"a": "b"}), None)
    assert a != stream_id("v1", "Pod", "ns", None, ("apps/v1", "ReplicaSet"))
    assert a != stream_id("v1", "Pod", "other", None, None)


def test_stream_ids_are_stable() -> None:
    """Stream ids name the persisted watch state: the same filters give the same id across
    kawa versions (the value was computed before selectors were declared as models)."""
    selector = LabelSelector(
        match_labels={"app": "web"},
        match_expressions=[LabelSelectorRequirement(key="tier", operator="In", values=["a", "b"])],
    )
    assert (
        stream_id("v1", "Pod", "ns", selector, ("apps/v1", "ReplicaSet"))
        == "v1/Pod@ns#a7b8696b6add"
    )
