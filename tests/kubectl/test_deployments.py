"""Deployments and ReplicaSets through the real kubectl against a ``kawa up`` of this module's
own (its kubelet runs the Pods): apply, ``rollout status``, ``scale``, a template change
rolled out, ``rollout history``, ``undo`` and ``restart``, ``get deploy,rs,pods``, an image
that cannot run reported in the Deployment's conditions, bad input refused, delete."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from ..e2e.e2e_support import KawaProcess, kawa_up
from ..waiting import wait_until
from .kubectl_support import KUBECTL, Kubectl, condition, header, to_yaml

pytestmark = pytest.mark.slow
kube: Any = kubernetes  # the client's own annotations are partial

ROLLOUT = ("--timeout=40s",)


@pytest.fixture(scope="module")
def kawa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KawaProcess]:
    """One kawa for this module (its Pods do not disturb the package's other tests)."""
    if not Path(KUBECTL).exists():
        pytest.skip(f"{KUBECTL} is not installed")
    with kawa_up(tmp_path_factory.mktemp("kawa-apps")) as running:
        yield running


def deployment(name: str, image: str = "busybox", cause: str = "first", **spec: Any) -> Any:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": {"app": name},
            "annotations": {"kubernetes.io/change-cause": cause},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}]
                },
            },
            **spec,
        },
    }


def revisions(kubectl: Kubectl, name: str) -> list[list[str]]:
    history = kubectl.ok("rollout", "history", f"deployment/{name}")
    return [line.split() for line in history.splitlines()[2:] if line.strip()]


def replicasets(kubectl: Kubectl, app: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.json("get", "rs", "-l", f"app={app}")["items"]
    return items


def test_deployment_lifecycle(kubectl: Kubectl) -> None:
    kubectl.apply(deployment("sleeper"))
    status = kubectl.ok("rollout", "status", "deployment/sleeper", *ROLLOUT)
    assert 'deployment "sleeper" successfully rolled out' in status

    shown = kubectl.ok("get", "deploy,rs,pods", "-l", "app=sleeper")
    tables = shown.strip().split("\n\n")
    assert header(tables[0]) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert tables[0].splitlines()[1].split()[:4] == ["deployment.apps/sleeper", "2/2", "2", "2"]
    assert header(tables[1]) == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    (first,) = replicasets(kubectl, "sleeper")
    first_name = first["metadata"]["name"]
    assert tables[1].splitlines()[1].split()[:4] == [f"replicaset.apps/{first_name}", "2", "2", "2"]
    pods = tables[2].splitlines()[1:]
    assert len(pods) == 2
    assert all(p.startswith(f"pod/{first_name}-") and "Running" in p for p in pods)
    wide = kubectl.ok("get", "deploy", "sleeper", "-o", "wide")
    assert header(wide)[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide.splitlines()[1].split()[-3:] == ["main", "busybox", "app=sleeper"]

    assert "deployment.apps/sleeper scaled" in kubectl.ok(
        "scale", "deployment", "sleeper", "--replicas=3"
    )
    kubectl.ok("rollout", "status", "deployment/sleeper", *ROLLOUT)
    assert kubectl.json("get", "deploy", "sleeper")["status"]["availableReplicas"] == 3

    # a new template: a new ReplicaSet, rolled out
    kubectl.ok("set", "env", "deployment/sleeper", "GREETING=hello")
    kubectl.ok(
        "annotate", "deployment", "sleeper", "kubernetes.io/change-cause=second", "--overwrite"
    )
    kubectl.ok("rollout", "status", "deployment/sleeper", *ROLLOUT)
    sets = {rs["metadata"]["name"]: rs for rs in replicasets(kubectl, "sleeper")}
    assert len(sets) == 2
    assert sets[first_name]["spec"]["replicas"] == 0
    assert revisions(kubectl, "sleeper") == [["1", "first"], ["2", "second"]]

    # undo: the first ReplicaSet again, as revision 3
    assert "rolled back" in kubectl.ok("rollout", "undo", "deployment/sleeper")
    kubectl.ok("rollout", "status", "deployment/sleeper", *ROLLOUT)
    sets = {rs["metadata"]["name"]: rs for rs in replicasets(kubectl, "sleeper")}
    assert len(sets) == 2, sorted(sets)
    assert sets[first_name]["spec"]["replicas"] == 3
    assert sets[first_name]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert revisions(kubectl, "sleeper") == [["2", "second"], ["3", "first"]]

    # restart: the same template with a restartedAt annotation, rolled out
    kubectl.ok("rollout", "restart", "deployment/sleeper")
    kubectl.ok("rollout", "status", "deployment/sleeper", *ROLLOUT)
    assert len(replicasets(kubectl, "sleeper")) == 3
    pods = kubectl.json("get", "pods", "-l", "app=sleeper")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 3
    assert all("kubectl.kubernetes.io/restartedAt" in p["metadata"]["annotations"] for p in live)

    assert 'deployment.apps "sleeper" deleted' in kubectl.ok("delete", "deployment", "sleeper")
    assert (
        kubectl.fails("get", "deployment", "sleeper")
        .stderr.strip()
        .endswith('deployments.apps "sleeper" not found')
    )


def test_an_image_that_cannot_run_is_reported(kubectl: Kubectl) -> None:
    broken = deployment("broken", image="example.com/team/app", progressDeadlineSeconds=2)
    del broken["spec"]["template"]["spec"]["containers"][0]["command"]
    kubectl.apply(broken)

    def reported() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "deploy", "broken")
        progressing = condition(obj, "Progressing") or {}
        return obj if progressing.get("reason") == "ProgressDeadlineExceeded" else None

    obj = wait_until(reported, 30, "the Deployment never exceeded its deadline")
    available = condition(obj, "Available") or {}
    assert available["status"] == "False"
    assert available["reason"] == "MinimumReplicasUnavailable"
    assert "ImageNotRunnable" in available["message"]
    status = kubectl.run("rollout", "status", "deployment/broken", *ROLLOUT)
    assert status.code != 0
    assert 'deployment "broken" exceeded its progress deadline' in status.stderr
    assert "ImageNotRunnable" in kubectl.ok("get", "pods", "-l", "app=broken")
    kubectl.ok("delete", "deployment", "broken")


def test_bad_deployments_are_refused(kubectl: Kubectl) -> None:
    bad = deployment("bad")
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    bad["spec"]["strategy"] = {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    refused = kubectl.fails("apply", "-f", "-", stdin=to_yaml(bad))
    assert "spec.template.metadata.labels: Invalid value" in refused.stderr, refused.explain()
    assert "`selector` does not match template `labels`" in refused.stderr
    assert "spec.strategy.rollingUpdate: Forbidden" in refused.stderr

    kubectl.apply(deployment("fixed", replicas=0))
    changed = deployment("fixed", replicas=0)
    changed["spec"]["selector"]["matchLabels"]["tier"] = "x"
    changed["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    immutable = kubectl.fails("apply", "-f", "-", stdin=to_yaml(changed))
    assert "spec.selector" in immutable.stderr, immutable.explain()
    assert "deployment.apps/fixed scaled" in kubectl.ok("scale", "deploy/fixed", "--replicas=1")
    explained = kubectl.ok("explain", "deployment.spec.strategy.rollingUpdate")
    assert "maxSurge" in explained
    kubectl.ok("delete", "deployment", "fixed")


def test_python_client_apps_v1(kawa: KawaProcess, kubectl: Kubectl) -> None:
    api_client: Any = kube.config.new_client_from_config(
        config_file=str(kawa.data_dir / "kubeconfig")
    )
    try:
        apps_api: Any = kube.client.AppsV1Api(api_client)
        apps_api.create_namespaced_deployment("default", deployment("pyclient", replicas=1))
        kubectl.ok("rollout", "status", "deployment/pyclient", *ROLLOUT)
        read = apps_api.read_namespaced_deployment("pyclient", "default")
        assert read.spec.strategy.rolling_update.max_surge == "25%"
        assert read.status.available_replicas == 1
        assert {c.type for c in read.status.conditions} == {"Available", "Progressing"}
        scale = apps_api.patch_namespaced_deployment_scale(
            "pyclient", "default", {"spec": {"replicas": 2}}
        )
        assert scale.spec.replicas == 2
        assert scale.status.selector == "app=pyclient"
        kubectl.ok("rollout", "status", "deployment/pyclient", *ROLLOUT)
        (rs,) = apps_api.list_namespaced_replica_set("default", label_selector="app=pyclient").items
        assert rs.status.ready_replicas == 2
        assert rs.metadata.owner_references[0].kind == "Deployment"
        apps_api.delete_namespaced_deployment("pyclient", "default")
    finally:
        api_client.close()


def test_create_deployment_pause_and_resume(kubectl: Kubectl) -> None:
    # kubectl create deployment sends protobuf
    kubectl.ok(
        "create", "deployment", "made", "--image=busybox", "--replicas=1", "--", "sleep", "600"
    )
    kubectl.ok("rollout", "status", "deployment/made", *ROLLOUT)
    made = kubectl.json("get", "deploy", "made")
    assert made["spec"]["template"]["spec"]["containers"][0]["command"] == ["sleep", "600"]
    kubectl.ok("rollout", "pause", "deployment/made")
    kubectl.ok("set", "env", "deployment/made", "A=b")

    def paused() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "deploy", "made")
        progressing = condition(obj, "Progressing") or {}
        return obj if progressing.get("reason") == "DeploymentPaused" else None

    wait_until(paused, 20, "the Deployment never reported it is paused")
    assert len(replicasets(kubectl, "made")) == 1
    kubectl.ok("rollout", "resume", "deployment/made")
    kubectl.ok("rollout", "status", "deployment/made", *ROLLOUT)
    assert len(replicasets(kubectl, "made")) == 2
    kubectl.ok("delete", "deployment", "made")


HELLO_DISPLAY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello-display
spec:
  replicas: 2
  selector:
    matchLabels:
      app: hello-display
  template:
    metadata:
      labels:
        app: hello-display
    spec:
      containers:
        - name: event-display
          image: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display
          ports:
            - containerPort: 8080
"""
"""Knative's hello-display sink (the Broker tutorial), as its documentation writes it."""


def test_knative_hello_display_deployment(kubectl: Kubectl) -> None:
    kubectl.ok("apply", "-f", "-", stdin=HELLO_DISPLAY)
    kubectl.ok("rollout", "status", "deployment/hello-display", *ROLLOUT)
    pods = kubectl.json("get", "pods", "-l", "app=hello-display")["items"]
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 2  # each replica listens on 8080 at its own address
    request = urllib.request.Request(
        f"http://{sorted(ips)[0]}:8080/",
        data=b'{"msg": "hi"}',
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Ce-Id": "1",
            "Ce-Source": "test",
            "Ce-Type": "greeting",
            "Ce-Specversion": "1.0",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status in (200, 202, 204)

    def logged() -> str | None:
        logs = kubectl.run("logs", "-l", "app=hello-display", "--prefix")
        return logs.stdout if "greeting" in logs.stdout else None

    wait_until(logged, 20, "the event never showed in the event-display's log")
    kubectl.ok("delete", "deployment", "hello-display")


def _has_garbage_collector(kubectl: Kubectl) -> bool:
    """Whether kawa carries out ``--cascade=orphan`` (without its garbage collector it refuses
    Foreground and Orphan with a 422)."""
    kubectl.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gc-probe"}})
    probe = kubectl.run("delete", "configmap", "gc-probe", "--cascade=orphan", "--dry-run=server")
    kubectl.ok("delete", "configmap", "gc-probe")
    return probe.code == 0


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
def test_delete_with_each_propagation_policy(kubectl: Kubectl, cascade: str) -> None:
    if not _has_garbage_collector(kubectl):
        pytest.skip("this kawa has no ownerReference garbage collector")
    name = f"gone-{cascade}"
    kubectl.apply(deployment(name))
    kubectl.ok("rollout", "status", f"deployment/{name}", *ROLLOUT)
    (rs,) = replicasets(kubectl, name)
    kubectl.ok("delete", "deployment", name, f"--cascade={cascade}", "--timeout=40s")

    def left() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        pods = kubectl.json("get", "pods", "-l", f"app={name}")["items"]
        return replicasets(kubectl, name), pods

    if cascade == "orphan":
        sets, pods = left()
        assert [r["metadata"]["name"] for r in sets] == [rs["metadata"]["name"]]
        assert not sets[0]["metadata"].get("ownerReferences")
        assert len(pods) == 2  # still the orphaned ReplicaSet's
        assert all(
            p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"] for p in pods
        )
        kubectl.ok("delete", "rs", rs["metadata"]["name"], "--cascade=foreground", "--timeout=40s")
    elif cascade == "foreground":
        assert left() == ([], [])  # kubectl returned once the dependents were gone
    wait_until(lambda: left() == ([], []), 30, f"{name}'s ReplicaSet and Pods never went")
