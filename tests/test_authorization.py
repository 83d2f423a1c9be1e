from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kawa import authorization as authorize

# The tutorial's serviceaccount.yaml, as examples/seed keeps it.
SEED = (
    Path(__file__).resolve().parents[1] / "examples" / "seed" / "serviceaccount.yaml"
).read_text()

SEED_OBJECTS: list[dict[str, Any]] = list(yaml.safe_load_all(SEED))
API = "rbac.authorization.k8s.io/v1"


def check(
    objects: list[dict[str, Any]],
    verb: str,
    resource: str = "events",
    *,
    group: str = "",
    namespace: str = "default",
    sa: tuple[str, str] = ("default", "events-sa"),
    name: str = "",
) -> bool:
    return authorize.allowed_by_objects(
        objects,
        service_account_namespace=sa[0],
        service_account_name=sa[1],
        verb=verb,
        api_group=group,
        resource=resource,
        namespace=namespace,
        resource_name=name,
    )


@pytest.mark.parametrize("verb", ["get", "list", "watch"])
def test_seed_grants_events_sa_get_list_watch_on_events_everywhere(verb: str) -> None:
    assert check(SEED_OBJECTS, verb)
    assert check(SEED_OBJECTS, verb, namespace="")
    assert check(SEED_OBJECTS, verb, namespace="knative-eventing")


def test_seed_grants_nothing_else() -> None:
    assert not check(SEED_OBJECTS, "create")
    assert not check(SEED_OBJECTS, "delete")
    assert not check(SEED_OBJECTS, "get", "pods")
    assert not check(SEED_OBJECTS, "get", group="events.k8s.io")
    assert not check(SEED_OBJECTS, "get", sa=("default", "other"))
    assert not check(SEED_OBJECTS, "get", sa=("other", "events-sa"))
    assert not check(SEED_OBJECTS[1:2], "get")  # the role alone grants nothing
    assert not check(SEED_OBJECTS[::2], "get")  # a binding to a missing role grants nothing


def test_the_four_lists_form() -> None:
    sa, cluster_role, crb = SEED_OBJECTS
    args: dict[str, Any] = {
        "service_account_namespace": "default",
        "service_account_name": "events-sa",
        "verb": "watch",
        "api_group": "",
        "resource": "events",
        "namespace": "default",
    }
    assert authorize.allowed([], [cluster_role], [], [crb], **args)
    assert not authorize.allowed([], [], [], [crb], **args)
    # A list holding other kinds is read only for its own kind.
    assert authorize.allowed([sa], [cluster_role, sa], [], [crb], **args)


def role(kind: str, rules: list[dict[str, Any]], namespace: str = "default") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "r"}
    if kind == "Role":
        metadata["namespace"] = namespace
    return {"apiVersion": API, "kind": kind, "metadata": metadata, "rules": rules}


def binding(
    kind: str, ref_kind: str, subjects: list[dict[str, Any]], namespace: str = "default"
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "b"}
    if kind == "RoleBinding":
        metadata["namespace"] = namespace
    return {
        "apiVersion": API,
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": "r"},
        "subjects": subjects,
    }


SA = {"kind": "ServiceAccount", "name": "events-sa", "namespace": "default"}
ALL_RULE = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}


def test_role_binding_to_a_cluster_role_is_scoped_to_its_namespace() -> None:
    objs = [role("ClusterRole", [ALL_RULE]), binding("RoleBinding", "ClusterRole", [SA], "dev")]
    assert check(objs, "delete", "pods", group="", namespace="dev")
    assert check(objs, "create", "brokers", group="eventing.knative.dev", namespace="dev")
    assert not check(objs, "get", namespace="default")
    assert not check(objs, "list", namespace="")


def test_role_binding_to_a_role() -> None:
    objs = [role("Role", [ALL_RULE], "dev"), binding("RoleBinding", "Role", [SA], "dev")]
    assert check(objs, "get", namespace="dev")
    other_ns_role = [role("Role", [ALL_RULE], "prod"), binding("RoleBinding", "Role", [SA], "dev")]
    assert not check(other_ns_role, "get", namespace="dev")


def test_service_account_subject_without_namespace_means_the_binding_namespace() -> None:
    subject = {"kind": "ServiceAccount", "name": "events-sa"}
    objs = [role("Role", [ALL_RULE]), binding("RoleBinding", "Role", [subject])]
    assert check(objs, "get")
    assert not check(objs, "get", sa=("dev", "events-sa"), namespace="default")


def test_wildcards_and_subresources() -> None:
    rules = [
        {"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]},
        {"apiGroups": ["*"], "resources": ["brokers"], "verbs": ["*"]},
    ]
    objs = [role("ClusterRole", rules), binding("ClusterRoleBinding", "ClusterRole", [SA])]
    assert check(objs, "get", "pods/log")
    assert not check(objs, "get", "pods")
    assert not check(objs, "list", "pods/log")
    assert check(objs, "patch", "brokers", group="eventing.knative.dev")


def test_resource_names_limit_requests_by_name_only() -> None:
    rules = [
        {
            "apiGroups": [""],
            "resources": ["events"],
            "resourceNames": ["e1"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    objs = [role("ClusterRole", rules), binding("ClusterRoleBinding", "ClusterRole", [SA])]
    assert check(objs, "get", name="e1")
    assert not check(objs, "get", name="e2")
    assert not check(objs, "list")
    assert not check(objs, "watch")


def test_group_and_user_subjects_that_name_a_service_account() -> None:
    for subject in (
        {"kind": "Group", "name": "system:serviceaccounts"},
        {"kind": "Group", "name": "system:serviceaccounts:default"},
        {"kind": "Group", "name": "system:authenticated"},
        {"kind": "User", "name": "system:serviceaccount:default:events-sa"},
    ):
        objs = [
            role("ClusterRole", [ALL_RULE]),
            binding("ClusterRoleBinding", "ClusterRole", [subject]),
        ]
        assert check(objs, "get"), subject
    objs = [
        role("ClusterRole", [ALL_RULE]),
        binding(
            "ClusterRoleBinding",
            "ClusterRole",
            [{"kind": "Group", "name": "system:serviceaccounts:dev"}],
        ),
    ]
    assert not check(objs, "get")


def test_invalid_objects_grant_nothing() -> None:
    bad_role = role("ClusterRole", [{"resources": ["*"], "verbs": ["*"]}])  # no apiGroups
    assert not check(
        [bad_role, SEED_OBJECTS[2] | {"roleRef": {**SEED_OBJECTS[2]["roleRef"], "name": "r"}}],
        "get",
    )
    non_resource = role("ClusterRole", [{"nonResourceURLs": ["*"], "verbs": ["*"]}])
    assert not check([non_resource, binding("ClusterRoleBinding", "ClusterRole", [SA])], "get")


def _policy(*objects: dict[str, Any]) -> authorize.Policy:
    return authorize.Policy.of(list(objects))


def _cluster_role(name: str, **rule: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "ClusterRole", "metadata": {"name": name}, "rules": [rule]}


def _crb(name: str, role_name: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role_name,
        },
        "subjects": list(subjects),
    }


def test_users_groups_and_superusers() -> None:
    policy = _policy(
        _cluster_role("pods", verbs=["get"], apiGroups=[""], resources=["pods"]),
        _crb("to-jane", "pods", {"kind": "User", "name": "jane"}),
        _crb("to-devs", "pods", {"kind": "Group", "name": "devs"}),
    )
    get_pods = authorize.Attributes("get", "", "pods", namespace="x")
    jane = authorize.UserInfo("jane")
    decision = policy.decide(jane, get_pods)
    assert decision.allowed
    assert 'ClusterRoleBinding "to-jane"' in decision.reason
    assert policy.decide(authorize.UserInfo("bob", ("devs",)), get_pods).allowed
    assert not policy.decide(authorize.UserInfo("bob"), get_pods).allowed
    assert not policy.decide(jane, authorize.Attributes("delete", "", "pods")).allowed
    admin = authorize.UserInfo("root", (authorize.SUPERUSERS,))
    assert policy.decide(admin, authorize.Attributes("delete", "x", "anything")).allowed


def test_non_resource_urls() -> None:
    policy = _policy(
        _cluster_role("health", verbs=["get"], nonResourceURLs=["/healthz", "/apis/*"]),
        _crb("to-all", "health", {"kind": "Group", "name": "system:authenticated"}),
    )
    user = authorize.UserInfo("jane", ("system:authenticated",))
    assert policy.decide(user, authorize.Attributes("get", path="/healthz")).allowed
    assert policy.decide(user, authorize.Attributes("get", path="/apis/x/v1")).allowed
    assert not policy.decide(user, authorize.Attributes("post", path="/healthz")).allowed
    assert not policy.decide(user, authorize.Attributes("get", path="/version")).allowed
    resource_rules, url_rules = authorize.rules_for(policy, user, "default")
    assert resource_rules == []
    assert [r.non_resource_urls for r in url_rules] == [("/healthz", "/apis/*")]
