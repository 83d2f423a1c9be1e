"""Finalizers and namespace termination through the real kubectl, against the package's kawa:
``kubectl delete`` of an object with a finalizer waits (as against a cluster) until
``kubectl patch`` takes the finalizer away; ``kubectl delete ns`` waits while an object in
the namespace holds it; a Pod may only name kawa's node (no Pod left ``Terminating`` that no
kubelet will ever stop)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ..e2e.e2e_support import read_text, stop
from ..waiting import wait_until
from .kubectl_support import Kubectl

pytestmark = pytest.mark.slow

UNHOLD = '{"metadata":{"finalizers":null}}'


def configmap(name: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "finalizers": ["example.com/hold"]},
        "data": {"k": "v"},
    }


@contextmanager
def running(kubectl: Kubectl, out: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """``kubectl ARGS`` in the background (output in ``out``), stopped at the end."""
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            kubectl.command(*args), stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
        )
    try:
        yield proc
    finally:
        stop(proc)


def finished(proc: subprocess.Popen[bytes], out: Path, timeout: float = 20.0) -> str:
    """Wait for ``proc`` to exit 0; its output."""
    code = wait_until(lambda: proc.poll() is not None, timeout, "kubectl never returned")
    assert code
    assert proc.returncode == 0, read_text(out)
    return read_text(out)


def test_kubectl_delete_waits_for_the_finalizer(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl.apply(configmap("held"))
    out = tmp_path / "delete.out"
    with running(kubectl, out, "delete", "configmap", "held", "--timeout=60s") as delete:

        def marked() -> Any:
            obj = kubectl.json("get", "configmap", "held")
            return obj if obj["metadata"].get("deletionTimestamp") else None

        obj = wait_until(marked, 15, "the delete never marked the ConfigMap")
        assert obj["metadata"]["deletionGracePeriodSeconds"] == 0
        assert delete.poll() is None, read_text(out)  # kubectl waits, as against a cluster
        added = kubectl.run(
            "patch", "configmap", "held", "--type=json",
            "-p", '[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/more"}]',
        )  # fmt: skip
        assert added.code != 0
        assert "no new finalizers can be added if the object is being deleted" in added.stderr
        kubectl.ok("patch", "configmap", "held", "--type=merge", "-p", UNHOLD)
        assert 'configmap "held" deleted' in finished(delete, out)
    assert kubectl.run("get", "configmap", "held").code != 0


def test_kubectl_delete_ns_waits_for_its_objects(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl.ok("create", "namespace", "held-ns")
    kubectl.apply(configmap("held", "held-ns"))
    kubectl.ok("create", "configmap", "free", "-n", "held-ns", "--from-literal=a=b")
    out = tmp_path / "delete-ns.out"
    with running(kubectl, out, "delete", "namespace", "held-ns", "--timeout=60s") as delete:

        def reported() -> Any:
            ns = kubectl.json("get", "namespace", "held-ns")
            conditions = {c["type"]: c for c in ns["status"].get("conditions") or []}
            held = conditions.get("NamespaceFinalizersRemaining", {})
            return ns if held.get("status") == "True" else None

        ns = wait_until(reported, 15, "the namespace never said what holds it")
        assert ns["status"]["phase"] == "Terminating"
        table = kubectl.ok("get", "namespace", "held-ns")
        assert "Terminating" in table
        assert kubectl.run("get", "configmap", "free", "-n", "held-ns").code != 0  # emptied
        refused = kubectl.run("create", "configmap", "late", "-n", "held-ns")
        assert refused.code != 0
        assert "because it is being terminated" in refused.stderr
        assert delete.poll() is None, read_text(out)
        kubectl.ok("patch", "configmap", "held", "-n", "held-ns", "--type=merge", "-p", UNHOLD)
        assert 'namespace "held-ns" deleted' in finished(delete, out)
    assert kubectl.run("get", "namespace", "held-ns").code != 0


def test_a_pod_may_only_name_an_existing_node(kubectl: Kubectl) -> None:
    refused = kubectl.run(
        "run", "elsewhere", "--image=busybox", "--restart=Never",
        '--overrides={"spec":{"nodeName":"node-7"}}', "--", "sleep", "1",
    )  # fmt: skip
    assert refused.code != 0
    assert "spec.nodeName" in refused.stderr
    assert 'node "node-7" not found' in refused.stderr
    assert kubectl.run("get", "pod", "elsewhere").code != 0
