"""kubectl auth against kawa's RBAC: can-i (SelfSubjectAccessReview), --as impersonation,
whoami (SelfSubjectReview), SubjectAccessReview, and impersonated requests refused as a
cluster refuses them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ..e2e.e2e_support import KawaProcess, kawa_up
from .kubectl_support import Api, Kubectl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kawa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KawaProcess]:
    with kawa_up(tmp_path_factory.mktemp("auth")) as running:
        kubectl = Kubectl(running.data_dir / "kubeconfig", tmp_path_factory.mktemp("cache"))
        kubectl.ok("create", "namespace", "team")
        kubectl.ok("create", "clusterrole", "viewer", "--verb=get,list,watch", "--resource=pods")
        kubectl.ok(
            "create",
            "rolebinding",
            "jane-viewer",
            "--clusterrole=viewer",
            "--user=jane",
            "-n",
            "team",
        )
        kubectl.ok(
            "create", "clusterrolebinding", "devs-configmaps", "--clusterrole=cm", "--group=devs"
        )
        kubectl.ok("create", "clusterrole", "cm", "--verb=*", "--resource=configmaps")
        yield running


@pytest.fixture
def kubectl(kawa: KawaProcess, tmp_path: Path) -> Kubectl:
    return Kubectl(kawa.data_dir / "kubeconfig", tmp_path / "kube-cache")


def test_the_token_holder_is_a_cluster_admin(kubectl: Kubectl) -> None:
    assert kubectl.ok("auth", "can-i", "create", "pods").strip() == "yes"
    assert kubectl.ok("auth", "can-i", "delete", "nodes").strip() == "yes"
    assert kubectl.ok("auth", "can-i", "get", "/healthz").strip() == "yes"
    who = kubectl.ok("auth", "whoami")
    assert "kawa-admin" in who, who
    assert "[system:masters system:authenticated]" in who, who


def test_can_i_as_another_user_follows_rbac(kubectl: Kubectl) -> None:
    assert kubectl.ok("auth", "can-i", "list", "pods", "--as=jane", "-n", "team").strip() == "yes"
    refused = kubectl.run("auth", "can-i", "list", "pods", "--as=jane", "-n", "default")
    assert (refused.code, refused.stdout.strip()) == (1, "no"), refused.explain()
    refused = kubectl.run("auth", "can-i", "delete", "pods", "--as=jane", "-n", "team")
    assert refused.stdout.strip() == "no", refused.explain()
    # a group's grant, through --as-group
    args = ("auth", "can-i", "delete", "configmaps", "--as=bob", "--as-group=devs", "-A")
    assert kubectl.ok(*args).strip() == "yes"
    assert kubectl.run("auth", "can-i", "delete", "configmaps", "--as=bob").code == 1
    listed = kubectl.ok("auth", "can-i", "--list", "--as=jane", "-n", "team")
    assert "pods" in listed, listed
    assert "[get list watch]" in listed, listed
    who = kubectl.ok("auth", "whoami", "--as=jane", "--as-group=devs")
    assert "jane" in who, who
    assert "[devs system:authenticated]" in who, who


def test_impersonated_requests_are_authorized_by_rbac(kubectl: Kubectl) -> None:
    kubectl.ok("get", "pods", "-n", "team", "--as=jane")
    refused = kubectl.fails("get", "pods", "-n", "default", "--as=jane")
    assert (
        'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the '
        'namespace "default"'
    ) in refused.stderr, refused.explain()
    refused = kubectl.fails("create", "configmap", "x", "-n", "team", "--as=jane")
    assert 'User "jane" cannot create resource "configmaps"' in refused.stderr, refused.explain()


def test_subject_access_review(kawa: KawaProcess) -> None:
    api = Api(kawa.data_dir / "kubeconfig")
    review: dict[str, Any] = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "jane",
            "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "pods"},
        },
    }
    answer = api.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    assert answer["status"]["allowed"] is True, answer
    assert 'RoleBinding "jane-viewer"' in answer["status"]["reason"], answer
    review["spec"]["resourceAttributes"]["verb"] = "delete"
    answer = api.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    assert answer["status"]["allowed"] is False, answer
    del review["spec"]["user"]
    bad = api.request(
        "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", orjson.dumps(review)
    )
    assert bad.status == 422, bad.body
    assert "at least one of user or group" in bad.json()["message"]
    listed = api.call("GET", "/apis/authorization.k8s.io/v1")
    names = {r["name"]: r["verbs"] for r in listed["resources"]}
    assert names["selfsubjectaccessreviews"] == ["create"]
