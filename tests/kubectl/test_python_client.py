"""The Kubernetes Python client against kawa: version, API versions, access reviews, nodes,
CustomResourceDefinitions (the typed APIs, which deserialize into the client's models)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from ..e2e.e2e_support import kawa_up
from ..waiting import wait_until

pytestmark = pytest.mark.slow

kube: Any = kubernetes  # the client's own annotations are partial


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with kawa_up(tmp_path_factory.mktemp("pyclient")) as kawa:
        api_client = kube.config.new_client_from_config(
            config_file=str(kawa.data_dir / "kubeconfig")
        )
        try:
            yield api_client
        finally:
            api_client.close()


def test_version_and_api_versions(client: Any) -> None:
    version = kube.client.VersionApi(client).get_code()
    assert (version.major, version.minor) == ("1", "32")
    assert version.git_version.startswith("v1.32")
    versions = kube.client.CoreApi(client).get_api_versions()
    assert versions.versions == ["v1"]
    groups = {g.name for g in kube.client.ApisApi(client).get_api_versions().groups}
    assert {"eventing.knative.dev", "authorization.k8s.io", "apiextensions.k8s.io"} <= groups


def test_self_subject_access_review(client: Any) -> None:
    authz = kube.client.AuthorizationV1Api(client)
    review = kube.client.V1SelfSubjectAccessReview(
        spec=kube.client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=kube.client.V1ResourceAttributes(
                namespace="default", verb="create", resource="pods"
            )
        )
    )
    answer = authz.create_self_subject_access_review(review)
    assert answer.status.allowed is True
    subject = kube.client.V1SubjectAccessReview(
        spec=kube.client.V1SubjectAccessReviewSpec(
            user="nobody",
            resource_attributes=kube.client.V1ResourceAttributes(
                namespace="default", verb="get", resource="pods"
            ),
        )
    )
    assert authz.create_subject_access_review(subject).status.allowed is False
    who = kube.client.AuthenticationV1Api(client).create_self_subject_review(
        kube.client.V1SelfSubjectReview()
    )
    assert who.status.user_info.username == "kawa-admin"
    assert "system:masters" in who.status.user_info.groups


def test_list_node(client: Any) -> None:
    core = kube.client.CoreV1Api(client)

    def listed() -> Any:
        nodes = core.list_node().items
        return nodes or None

    (node,) = wait_until(listed, 20, "kawa's node never appeared")
    assert node.metadata.name == "kawa"
    assert int(node.status.capacity["cpu"]) >= 1
    ready = next(c for c in node.status.conditions if c.type == "Ready")
    assert ready.status == "True"
    assert node.status.node_info.kubelet_version.startswith("v1.32")


def test_list_custom_resource_definitions(client: Any) -> None:
    ext = kube.client.ApiextensionsV1Api(client)
    crds = {c.metadata.name: c for c in ext.list_custom_resource_definition().items}
    broker = crds["brokers.eventing.knative.dev"]
    assert broker.spec.names.kind == "Broker"
    assert broker.spec.versions[0].storage is True
