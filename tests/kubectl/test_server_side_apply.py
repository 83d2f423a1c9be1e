"""Server-side apply with the real kubectl: ``metadata.managedFields`` on every write, two
managers sharing a ConfigMap and a Trigger, removal of a field a manager stops applying,
conflicts and ``--force-conflicts``, ``--show-managed-fields``, the migration from
client-side apply, and the API's rules for apply requests (fieldManager, force)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..e2e.e2e_support import KawaProcess
from .kubectl_support import Api, Kubectl, to_yaml

pytestmark = pytest.mark.slow

NS = "ssa"


@pytest.fixture(scope="module")
def namespace(kawa: KawaProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    kubectl = Kubectl(kawa.data_dir / "kubeconfig", tmp_path_factory.mktemp("ns-cache"))
    kubectl.ok("create", "namespace", NS)
    yield NS
    kubectl.run("delete", "namespace", NS, "--wait=false")


def _configmap(name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS},
        "data": data,
    }


def _apply(kubectl: Kubectl, obj: dict[str, Any], *flags: str) -> str:
    return kubectl.ok("apply", "--server-side", *flags, "-f", "-", stdin=to_yaml(obj))


def _managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    entries = obj["metadata"].get("managedFields", [])
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in entries}


def test_two_managers_share_a_configmap(kubectl: Kubectl, namespace: str) -> None:
    assert _apply(kubectl, _configmap("shared", a="1"), "--field-manager=alice").strip() == (
        "configmap/shared serverside-applied"
    )
    _apply(kubectl, _configmap("shared", b="2"), "--field-manager=bob")
    obj = kubectl.json("get", "configmap", "shared", "-n", namespace, "--show-managed-fields")
    assert obj["data"] == {"a": "1", "b": "2"}
    managers = _managers(obj)
    assert managers[("alice", "Apply")] == {"f:data": {"f:a": {}}}
    assert managers[("bob", "Apply")] == {"f:data": {"f:b": {}}}
    # alice stops applying a: it goes; bob's b stays
    _apply(kubectl, _configmap("shared", c="3"), "--field-manager=alice")
    obj = kubectl.json("get", "configmap", "shared", "-n", namespace)
    assert obj["data"] == {"b": "2", "c": "3"}
    assert "managedFields" not in obj["metadata"]  # kubectl hides them without the flag
    # a field both apply with the same value is shared: it stays while one still applies it
    _apply(kubectl, _configmap("shared", b="2", c="3"), "--field-manager=alice")
    _apply(kubectl, _configmap("shared", c="3"), "--field-manager=alice")
    obj = kubectl.json("get", "configmap", "shared", "-n", namespace)
    assert obj["data"] == {"b": "2", "c": "3"}


def test_conflict_and_force(kubectl: Kubectl, namespace: str) -> None:
    _apply(kubectl, _configmap("contested", size="1"), "--field-manager=alice")
    run = kubectl.run(
        "apply", "--server-side", "--field-manager=bob", "-f", "-",
        stdin=to_yaml(_configmap("contested", size="2")),
    )  # fmt: skip
    assert run.code != 0
    assert 'Apply failed with 1 conflict: conflict with "alice": .data.size' in run.stderr
    assert "--force-conflicts" in run.stderr
    out = _apply(
        kubectl, _configmap("contested", size="2"), "--field-manager=bob", "--force-conflicts"
    )
    assert "serverside-applied" in out
    obj = kubectl.json("get", "configmap", "contested", "-n", namespace, "--show-managed-fields")
    assert obj["data"] == {"size": "2"}
    managers = _managers(obj)
    assert managers[("bob", "Apply")] == {"f:data": {"f:size": {}}}
    assert ("alice", "Apply") not in managers  # it lost its only field
    # an update (kubectl edit/patch) takes fields from appliers without a conflict
    kubectl.ok("patch", "configmap", "contested", "-n", namespace, "-p", '{"data":{"size":"3"}}')
    obj = kubectl.json("get", "configmap", "contested", "-n", namespace, "--show-managed-fields")
    managers = _managers(obj)
    assert managers[("kubectl-patch", "Update")] == {"f:data": {"f:size": {}}}
    run = kubectl.run(
        "apply", "--server-side", "--field-manager=bob", "-f", "-",
        stdin=to_yaml(_configmap("contested", size="4")),
    )  # fmt: skip
    assert 'conflict with "kubectl-patch" using v1: .data.size' in run.stderr


def test_show_managed_fields_output(kubectl: Kubectl, namespace: str) -> None:
    _apply(kubectl, _configmap("shown", k="v"), "--field-manager=shower")
    out = kubectl.ok(
        "get", "configmap", "shown", "-n", namespace, "-o", "yaml", "--show-managed-fields"
    )
    entry = yaml.safe_load(out)["metadata"]["managedFields"][0]
    assert entry["manager"] == "shower"
    assert entry["operation"] == "Apply"
    assert entry["apiVersion"] == "v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["time"].endswith("Z")
    assert "f:data:\n        f:k: {}" in out
    assert "managedFields" not in kubectl.ok(
        "get", "configmap", "shown", "-n", namespace, "-o", "yaml"
    )


def test_client_side_apply_records_its_manager_and_migrates(
    kubectl: Kubectl, namespace: str
) -> None:
    text = to_yaml(_configmap("migrated", a="1", b="2"))
    assert kubectl.ok("apply", "-f", "-", stdin=text).strip() == "configmap/migrated created"
    obj = kubectl.json("get", "configmap", "migrated", "-n", namespace, "--show-managed-fields")
    managers = _managers(obj)
    assert managers[("kubectl-client-side-apply", "Update")] == {
        "f:data": {".": {}, "f:a": {}, "f:b": {}},
        "f:metadata": {
            "f:annotations": {
                ".": {},
                "f:kubectl.kubernetes.io/last-applied-configuration": {},
            }
        },
    }
    # client-side apply still prunes what the last-applied configuration no longer names
    kubectl.ok("apply", "-f", "-", stdin=to_yaml(_configmap("migrated", a="1")))
    assert kubectl.json("get", "configmap", "migrated", "-n", namespace)["data"] == {"a": "1"}
    # the switch to server-side apply: kubectl moves the ownership to its manager, so fields
    # dropped from the configuration afterwards go
    _apply(kubectl, _configmap("migrated", a="1", c="3"))
    obj = kubectl.json("get", "configmap", "migrated", "-n", namespace, "--show-managed-fields")
    assert obj["data"] == {"a": "1", "c": "3"}
    managers = _managers(obj)
    assert ("kubectl-client-side-apply", "Update") not in managers
    assert "f:c" in managers[("kubectl", "Apply")]["f:data"]
    _apply(kubectl, _configmap("migrated", c="3"))
    obj = kubectl.json("get", "configmap", "migrated", "-n", namespace)
    assert obj["data"] == {"c": "3"}
    annotation = obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert '"c":"3"' in annotation
    assert '"a"' not in annotation
    # and back to client-side apply: the annotation kept in step lets it prune c
    kubectl.ok("apply", "-f", "-", stdin=to_yaml(_configmap("migrated", d="4")))
    obj = kubectl.json("get", "configmap", "migrated", "-n", namespace, "--show-managed-fields")
    assert obj["data"] == {"d": "4"}
    assert _managers(obj)[("kubectl-client-side-apply", "Update")]["f:data"] == {"f:d": {}}


def test_broker_and_trigger_with_two_managers(kubectl: Kubectl, namespace: str) -> None:
    broker = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "b", "namespace": NS, "labels": {"team": "a"}},
    }
    _apply(kubectl, broker, "--field-manager=platform")
    labels = {"metadata": {"name": "b", "namespace": NS, "labels": {"owner": "ops"}}}
    _apply(kubectl, {**broker, **labels}, "--field-manager=ops")
    obj = kubectl.json("get", "broker", "b", "-n", namespace)
    assert obj["metadata"]["labels"] == {"team": "a", "owner": "ops"}
    trigger: dict[str, Any] = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": "t", "namespace": NS},
        "spec": {
            "broker": "b",
            "filter": {"attributes": {"type": "a"}},
            "subscriber": {"uri": "http://127.0.0.1:9/"},
        },
    }
    _apply(kubectl, trigger, "--field-manager=platform")
    delivery = {"spec": {"broker": "b", "delivery": {"retry": 3}}}
    _apply(kubectl, {**trigger, **delivery}, "--field-manager=sre")
    obj = kubectl.json("get", "trigger", "t", "-n", namespace, "--show-managed-fields")
    assert obj["spec"]["delivery"]["retry"] == 3
    assert obj["spec"]["subscriber"]["uri"] == "http://127.0.0.1:9/"
    managers = _managers(obj)
    assert managers[("sre", "Apply")] == {"f:spec": {"f:broker": {}, "f:delivery": {"f:retry": {}}}}
    # platform drops its filter: removed; sre's delivery stays
    del trigger["spec"]["filter"]
    _apply(kubectl, trigger, "--field-manager=platform")
    obj = kubectl.json("get", "trigger", "t", "-n", namespace)
    assert obj["spec"].get("filter", {}) == {}  # Knative's default: an empty filter
    assert obj["spec"]["delivery"]["retry"] == 3
    run = kubectl.run(
        "apply", "--server-side", "--field-manager=sre", "-f", "-",
        stdin=to_yaml({**trigger, "spec": {"broker": "other"}}),
    )  # fmt: skip
    assert "conflicts with" in run.stderr or "conflict with" in run.stderr
    assert '"platform"' in run.stderr
    assert ".spec.broker" in run.stderr


def test_apply_request_rules(api: Api, namespace: str, tmp_path: Path) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/rules"
    body = to_yaml(_configmap("rules", a="1")).encode()
    resp = api.request("PATCH", path, body, "application/apply-patch+yaml")
    assert resp.status == 422, resp.body
    status = resp.json()
    assert status["reason"] == "Invalid"
    assert "fieldManager: Required value: is required for apply patch" in status["message"]
    resp = api.request(
        "PATCH", f"{path}?fieldManager=x&force=true", b'{"data":{"a":"2"}}',
        "application/merge-patch+json",
    )  # fmt: skip
    assert resp.status == 422, resp.body
    assert "may not be specified for non-apply patch" in resp.json()["message"]
    resp = api.request("PATCH", f"{path}?fieldManager=one", body, "application/apply-patch+yaml")
    assert resp.status == 201, resp.body
    other = to_yaml(_configmap("rules", a="2")).encode()
    resp = api.request("PATCH", f"{path}?fieldManager=two", other, "application/apply-patch+yaml")
    assert resp.status == 409
    status = resp.json()
    assert status["reason"] == "Conflict"
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "one"', "field": ".data.a"}
    ]
    # a replace records an Update entry for its field manager; the applier keeps the rest
    current: dict[str, Any] = api.call("GET", path)
    current["data"]["b"] = "9"
    obj = api.call("PUT", f"{path}?fieldManager=editor", current)
    managers = {e["manager"]: e for e in obj["metadata"]["managedFields"]}
    assert managers["editor"]["operation"] == "Update"
    assert managers["editor"]["fieldsV1"] == {"f:data": {"f:b": {}}}
    assert managers["one"]["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_dry_run_and_diff(kubectl: Kubectl, namespace: str) -> None:
    _apply(kubectl, _configmap("dry", a="1"), "--field-manager=dry")
    out = _apply(kubectl, _configmap("dry", a="2"), "--field-manager=dry", "--dry-run=server")
    assert "serverside-applied (server dry run)" in out
    assert kubectl.json("get", "configmap", "dry", "-n", namespace)["data"] == {"a": "1"}
    run = kubectl.run(
        "diff", "--server-side", "--field-manager=dry", "-f", "-",
        stdin=to_yaml(_configmap("dry", a="2")),
    )  # fmt: skip
    assert run.code == 1, run.explain()  # differences found
    assert '-  a: "1"' in run.stdout
    assert '+  a: "2"' in run.stdout


def test_kubectl_commands_are_their_own_managers(kubectl: Kubectl, namespace: str) -> None:
    kubectl.ok("create", "configmap", "made", "-n", namespace, "--from-literal=a=1")  # protobuf
    kubectl.ok("label", "configmap", "made", "-n", namespace, "tier=x")
    obj = kubectl.json("get", "configmap", "made", "-n", namespace, "--show-managed-fields")
    managers = _managers(obj)
    assert managers[("kubectl-create", "Update")] == {"f:data": {".": {}, "f:a": {}}}
    assert managers[("kubectl-label", "Update")] == {
        "f:metadata": {"f:labels": {".": {}, "f:tier": {}}}
    }
    # clearing them as Kubernetes allows: managedFields [{}]
    kubectl.ok(
        "patch", "configmap", "made", "-n", namespace, "--type=merge",
        "-p", '{"metadata":{"managedFields":[{}]}}',
    )  # fmt: skip
    obj = kubectl.json("get", "configmap", "made", "-n", namespace, "--show-managed-fields")
    assert "managedFields" not in obj["metadata"]


SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"


def test_seed_forms_apply_server_side_idempotently(kubectl: Kubectl, namespace: str) -> None:
    """The 2019 v1alpha1 forms (converted on the way in and out) applied server-side: the
    second apply changes nothing (same resourceVersion), the managed fields are in the
    applied version."""
    texts = [
        (SEED / name).read_text().replace("namespace: default", f"namespace: {namespace}")
        for name in ("trigger.yaml", "k8s-events.yaml")
    ]
    refs = [("trigger", "testevents-trigger"), ("apiserversource", "testevents")]
    for text in texts:
        assert "serverside-applied" in kubectl.ok("apply", "--server-side", "-f", "-", stdin=text)
    before = [kubectl.json("get", *ref, "-n", namespace) for ref in refs]
    for text in texts:
        kubectl.ok("apply", "--server-side", "-f", "-", stdin=text)
    after = [kubectl.json("get", *ref, "-n", namespace, "--show-managed-fields") for ref in refs]
    for old, new in zip(before, after, strict=True):
        assert old["metadata"]["resourceVersion"] == new["metadata"]["resourceVersion"]
    entry = after[0]["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["apiVersion"]) == ("kubectl", "eventing.knative.dev/v1alpha1")
    assert entry["fieldsV1"]["f:spec"]["f:subscriber"]["f:ref"] == {
        "f:apiVersion": {},
        "f:kind": {},
        "f:name": {},
    }


def test_status_writes_have_their_own_entry(kubectl: Kubectl, namespace: str) -> None:
    broker = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "with-status", "namespace": NS},
    }
    kubectl.ok("create", "-f", "-", stdin=to_yaml(broker))
    kubectl.ok(
        "patch", "broker", "with-status", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", '{"status":{"observedGeneration":99}}',
    )  # fmt: skip
    obj = kubectl.json("get", "broker", "with-status", "-n", namespace, "--show-managed-fields")
    entries = {
        (e["manager"], e.get("subresource", "")): e for e in obj["metadata"]["managedFields"]
    }
    assert ("kubectl-patch", "status") in entries, obj["metadata"]["managedFields"]
    status = entries[("kubectl-patch", "status")]
    assert status["operation"] == "Update"
    assert "f:observedGeneration" in status["fieldsV1"]["f:status"]
    assert ("kubectl-create", "") in entries
