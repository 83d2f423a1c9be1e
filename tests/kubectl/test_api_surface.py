"""The API surface kubectl expects beyond the kinds: ``/openapi/v2`` (client-side validation
of unknown kinds and of Lists), discovery paths with a trailing slash, dry-run answers that
keep ``status`` (``kubectl diff``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kawa.apis.registry import SCHEME
from kawa.apiserver import crds

from ..e2e.e2e_support import KawaProcess, kawa_up
from ..waiting import wait_until
from .cases import CASES
from .kubectl_support import Api, Kubectl, condition, header, to_yaml

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kawa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KawaProcess]:
    with kawa_up(tmp_path_factory.mktemp("surface")) as running:
        yield running


@pytest.fixture(scope="module")
def api(kawa: KawaProcess) -> Api:
    return Api(kawa.data_dir / "kubeconfig")


@pytest.fixture
def kubectl(kawa: KawaProcess, tmp_path: Path) -> Kubectl:
    return Kubectl(kawa.data_dir / "kubeconfig", tmp_path / "kube-cache")


def test_unknown_kind_is_no_matches_for_kind(kubectl: Kubectl) -> None:
    foo = {"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "x"}}
    failed = kubectl.run("apply", "-f", "-", stdin=to_yaml(foo))
    assert failed.code != 0
    assert 'no matches for kind "Foo" in version "example.com/v1"' in failed.stderr, failed
    assert "resource mapping not found" in failed.stderr, failed
    assert "openapi" not in failed.stderr, failed


def test_a_list_is_validated_on_the_client_with_openapi_v2(kubectl: Kubectl) -> None:
    broker: dict[str, Any] = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "listed", "namespace": "default"},
        "spec": {"delivery": {"retry": 2, "backoffPolicy": "linear"}},
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "listed", "namespace": "default", "labels": {"a": "b"}},
        "data": {"k": "v"},
    }
    listed = {"apiVersion": "v1", "kind": "List", "items": [broker, config]}
    out = kubectl.ok("apply", "-f", "-", stdin=to_yaml(listed))
    assert "broker.eventing.knative.dev/listed created" in out, out
    assert "configmap/listed created" in out, out
    # a List is checked against the /openapi/v2 definitions: unknown fields are caught there
    broker["spec"]["delivery"]["bogus"] = 1
    failed = kubectl.fails("apply", "-f", "-", stdin=to_yaml(listed))
    assert 'unknown field "bogus"' in failed.stderr, failed.explain()
    assert "Broker.spec.delivery" in failed.stderr, failed.explain()


def explained_fields(kubectl: Kubectl, path: str) -> dict[str, str]:
    """The FIELDS of ``kubectl explain path``: name -> ``<type>`` (and `` -required-``)."""
    out = kubectl.ok("explain", path)
    fields = out.split("FIELDS:", 1)[1]
    return {
        line.split("\t", 1)[0].strip(): line.split("\t", 1)[1].strip()
        for line in fields.splitlines()
        if line.startswith("  ") and not line.startswith("   ") and "\t" in line
    }


def test_a_knative_service_container_needs_no_name(kubectl: Kubectl) -> None:
    """Knative names a Service's one container ``user-container`` when it has none: the
    schema kubectl validates against (a List, on the client) must not require the name."""
    service = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "nameless", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"image": "busybox"}]}}},
    }
    listed = {"apiVersion": "v1", "kind": "List", "items": [service]}
    out = kubectl.ok("apply", "--validate=strict", "-f", "-", stdin=to_yaml(listed))
    assert "service.serving.knative.dev/nameless created" in out, out
    made = kubectl.json("get", "ksvc", "nameless")
    [container] = made["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "user-container", container
    fields = explained_fields(kubectl, "ksvc.spec.template.spec.containers")
    assert (fields["name"], fields["image"]) == ("<string>", "<string> -required-"), fields
    # a Pod's containers still need theirs
    assert explained_fields(kubectl, "pods.spec.containers")["name"] == "<string> -required-"
    kubectl.ok("delete", "ksvc", "nameless")


def test_openapi_v2_as_json_and_protobuf(api: Api) -> None:
    doc = api.call("GET", "/openapi/v2")
    assert doc["swagger"] == "2.0"
    broker = doc["definitions"]["dev.knative.eventing.v1.Broker"]
    assert broker["x-kubernetes-group-version-kind"] == [
        {"group": "eventing.knative.dev", "version": "v1", "kind": "Broker"}
    ]
    assert broker["properties"]["metadata"]["$ref"] == (
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    )
    patch = doc["paths"]["/apis/eventing.knative.dev/v1/namespaces/{namespace}/brokers/{name}"]
    assert "fieldValidation" in [p["name"] for p in patch["patch"]["parameters"]]
    conn = api.connection()
    try:
        conn.request(
            "GET",
            "/openapi/v2",
            headers={
                "Authorization": f"Bearer {api.token}",
                "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
            },
        )
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status == 200
    assert resp.getheader("Content-Type", "").endswith("+protobuf")
    assert body.startswith(b"\x0a\x032.0")  # field 1 (swagger), "2.0"
    assert b"dev.knative.eventing.v1.Broker" in body


@pytest.mark.parametrize("path", ["/version", "/api", "/apis", "/api/v1", "/openapi/v3"])
def test_discovery_answers_with_a_trailing_slash(api: Api, path: str) -> None:
    assert api.call("GET", path + "/") == api.call("GET", path)


def test_every_kind_passes_client_side_validation_in_a_list(kubectl: Kubectl) -> None:
    """A List of one valid manifest per kind: its items are validated on the client against
    /openapi/v2, which must accept every one of them."""
    listed = {"apiVersion": "v1", "kind": "List", "items": [c.manifest for c in CASES]}
    out = kubectl.ok("create", "--dry-run=client", "-f", "-", stdin=to_yaml(listed))
    assert out.count("(dry run)") == len(CASES), out


def test_get_nodes_lists_kawas_node(kubectl: Kubectl) -> None:
    table = kubectl.ok("get", "nodes")
    assert header(table) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], table
    row = table.splitlines()[1].split()
    assert row[:3] == ["kawa", "Ready", "control-plane"], table
    assert row[4].startswith("v1.32"), table
    node = kubectl.json("get", "node", "kawa")
    capacity = node["status"]["capacity"]
    assert int(capacity["cpu"]) >= 1
    assert capacity["memory"].endswith("Ki")
    assert capacity["pods"] == "110"
    assert node["status"]["allocatable"] == capacity
    ready = condition(node)
    assert ready is not None
    assert ready["status"] == "True"
    assert ready["lastHeartbeatTime"]
    assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.32")
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]
    wide = kubectl.ok("get", "nodes", "-o", "wide")
    assert "INTERNAL-IP" in header(wide), wide


def test_kubectl_diff_keeps_the_status(kubectl: Kubectl) -> None:
    broker: dict[str, Any] = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "diffed", "namespace": "default"},
        "spec": {"delivery": {"retry": 1}},
    }
    kubectl.apply(broker)
    wait_until(
        lambda: condition(kubectl.json("get", "broker", "diffed")) is not None,
        20,
        "the Broker never reported a status",
    )
    broker["spec"]["delivery"]["retry"] = 3
    diff = kubectl.run("diff", "-f", "-", stdin=to_yaml(broker))
    assert diff.code == 1, diff.explain()  # 1: differences found
    changed = [
        line
        for line in diff.stdout.splitlines()
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert sorted(changed) == sorted(
        ["-  generation: 1", "+  generation: 2", "-    retry: 1", "+    retry: 3"]
    ), diff.stdout


def test_get_crd_lists_every_knative_kind(kubectl: Kubectl) -> None:
    table = kubectl.ok("get", "crd")
    assert header(table) == ["NAME", "CREATED AT"], table
    names = {line.split()[0] for line in table.splitlines()[1:]}
    wanted = {
        f"{rk.plural}.{api_version.rpartition('/')[0]}"
        for rk in SCHEME.kinds
        for api_version in rk.served_api_versions
        if not crds.is_builtin(api_version.rpartition("/")[0])
    }
    assert names == wanted, table
    assert "brokers.eventing.knative.dev" in names
    broker = yaml.safe_load(kubectl.ok("get", "crd", "brokers.eventing.knative.dev", "-o", "yaml"))
    spec = broker["spec"]
    assert spec["group"] == "eventing.knative.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "Broker"
    assert "knative" in spec["names"]["categories"]
    v1 = spec["versions"][0]
    assert (v1["name"], v1["served"], v1["storage"]) == ("v1", True, True)
    assert v1["subresources"] == {"status": {}}
    schema = v1["schema"]["openAPIV3Schema"]
    assert "delivery" in schema["properties"]["spec"]["properties"]
    assert "READY" in [c["name"].upper() for c in v1["additionalPrinterColumns"]]
    established = condition(broker, "Established")
    assert established is not None
    assert established["status"] == "True"
    trigger = kubectl.json("get", "crd", "triggers.eventing.knative.dev")
    assert [(v["name"], v["storage"]) for v in trigger["spec"]["versions"]] == [
        ("v1", True),
        ("v1alpha1", False),
    ]
    ping = kubectl.json("get", "crd", "pingsources.sources.knative.dev")
    assert ping["metadata"]["labels"]["duck.knative.dev/source"] == "true"


def test_crds_are_read_only(kubectl: Kubectl) -> None:
    for args in (
        ("delete", "crd", "brokers.eventing.knative.dev"),
        ("label", "crd", "brokers.eventing.knative.dev", "a=b"),
    ):
        refused = kubectl.fails(*args)
        assert "MethodNotAllowed" in refused.stderr, refused.explain()
        assert "read-only" in refused.stderr, refused.explain()
    assert kubectl.ok("get", "crd", "brokers.eventing.knative.dev", "-o", "name")


@pytest.mark.skipif(
    SCHEME.for_resource("", "v1", "services") is None,
    reason="kubectl cluster-info lists core v1 Services, which this kawa does not serve yet",
)
def test_cluster_info(kubectl: Kubectl, kawa: KawaProcess) -> None:
    out = kubectl.ok("cluster-info")
    assert f"Kubernetes control plane is running at https://127.0.0.1:{kawa.api_port}" in out, out
