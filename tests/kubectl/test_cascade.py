"""``kubectl delete --cascade=background|foreground|orphan`` against the package's kawa, on
objects made with ``ownerReferences`` as a user writes them (the owner's uid from ``kubectl
get -o jsonpath``): a ConfigMap owning a ConfigMap and a Secret. Background deletes the
owner at once and its dependents after; foreground keeps the owner, marked and visible,
until its blocking dependents are gone (kubectl waits); orphan keeps the dependents without
their reference."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..e2e.e2e_support import read_text, stop
from ..waiting import wait_until
from .kubectl_support import Kubectl

pytestmark = pytest.mark.slow

NS = "default"
HOLD = "example.com/hold"


def family(kubectl: Kubectl, prefix: str, *, hold: bool = False) -> str:
    """ConfigMap ``<prefix>-owner`` owning ConfigMap ``<prefix>-cm`` (blocking; with a
    finalizer when ``hold``) and Secret ``<prefix>-secret``; the owner's uid."""
    kubectl.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{prefix}-owner"}}
    )
    uid = kubectl.ok("get", "configmap", f"{prefix}-owner", "-o", "jsonpath={.metadata.uid}")
    assert uid

    def owned(block: bool) -> dict[str, Any]:
        ref: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": f"{prefix}-owner",
            "uid": uid,
        }
        return {"ownerReferences": [{**ref, "blockOwnerDeletion": True} if block else ref]}

    dependent: dict[str, Any] = {"name": f"{prefix}-cm", **owned(True)}
    if hold:
        dependent["finalizers"] = [HOLD]
    kubectl.apply(
        [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": dependent, "data": {"k": "v"}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{prefix}-secret", **owned(False)},
                "stringData": {"k": "v"},
            },
        ]
    )
    return uid


def absent(kubectl: Kubectl, kind: str, name: str) -> bool:
    result = kubectl.run("get", kind, name, "-n", NS)
    return result.code != 0 and "NotFound" in result.stderr


def test_background_deletes_the_dependents_after(kubectl: Kubectl) -> None:
    family(kubectl, "bg")
    out = kubectl.ok("delete", "configmap", "bg-owner", "--cascade=background")
    assert 'configmap "bg-owner" deleted' in out
    assert absent(kubectl, "configmap", "bg-owner")
    wait_until(
        lambda: absent(kubectl, "configmap", "bg-cm") and absent(kubectl, "secret", "bg-secret"),
        20,
        "the dependents of a deleted owner stayed",
    )


def test_orphan_keeps_the_dependents_without_the_reference(kubectl: Kubectl) -> None:
    family(kubectl, "or")
    out = kubectl.ok("delete", "configmap", "or-owner", "--cascade=orphan")
    assert 'configmap "or-owner" deleted' in out
    assert absent(kubectl, "configmap", "or-owner")
    for kind, name in (("configmap", "or-cm"), ("secret", "or-secret")):
        obj = kubectl.json("get", kind, name)
        assert "ownerReferences" not in obj["metadata"], obj
    kubectl.ok("delete", "configmap", "or-cm")
    kubectl.ok("delete", "secret", "or-secret")


def test_foreground_waits_for_the_blocking_dependents(kubectl: Kubectl, tmp_path: Path) -> None:
    family(kubectl, "fg", hold=True)
    out = tmp_path / "delete.out"
    args = ("delete", "configmap", "fg-owner", "--cascade=foreground", "--timeout=60s")
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            kubectl.command(*args), stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
        )
    try:

        def marked() -> Any:
            owner = kubectl.json("get", "configmap", "fg-owner")
            return owner if owner["metadata"].get("deletionTimestamp") else None

        owner = wait_until(marked, 15, "the owner was never marked")
        assert owner["metadata"]["finalizers"] == ["foregroundDeletion"]
        # the non-blocking Secret goes; the held ConfigMap is being deleted and blocks
        wait_until(lambda: absent(kubectl, "secret", "fg-secret"), 20, "the Secret stayed")
        held = wait_until(
            lambda: (
                (o := kubectl.json("get", "configmap", "fg-cm"))["metadata"].get(
                    "deletionTimestamp"
                )
                and o
            ),
            20,
            "the blocking dependent was never deleted",
        )
        assert held["metadata"]["finalizers"] == [HOLD]
        assert proc.poll() is None, read_text(out)  # kubectl waits for the owner
        assert kubectl.json("get", "configmap", "fg-owner")["metadata"]["finalizers"] == [
            "foregroundDeletion"
        ]

        kubectl.ok(
            "patch", "configmap", "fg-cm", "--type=merge", "-p", '{"metadata":{"finalizers":null}}'
        )
        wait_until(lambda: proc.poll() is not None, 30, "kubectl delete never returned")
        assert proc.returncode == 0, read_text(out)
        assert 'configmap "fg-owner" deleted' in read_text(out)
    finally:
        stop(proc)
    assert absent(kubectl, "configmap", "fg-owner")
    assert absent(kubectl, "configmap", "fg-cm")
