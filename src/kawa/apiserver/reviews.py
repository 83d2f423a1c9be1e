"""Who is asking, and what may they do: identity, impersonation and the review resources.

**Identity.** kawa's one bearer token (``<data-dir>/token``) belongs to the user
``kawa-admin`` in the groups ``system:masters`` and ``system:authenticated``: a cluster
admin, as the holder of a kubeadm cluster's ``admin.conf`` is. **Impersonation**: a request
with ``Impersonate-User`` (and any ``Impersonate-Group``, ``Impersonate-Uid``,
``Impersonate-Extra-<key>`` headers: what ``kubectl --as``/``--as-group`` send) acts as that
user, who gets ``system:authenticated`` too (and a ServiceAccount's user its
``system:serviceaccounts`` groups when none are given), as Kubernetes does; a group without
a user is a 400. An impersonated request is authorized by RBAC over the Roles,
ClusterRoles and bindings stored in kawa (:mod:`kawa.authorization`): a resource request
without a grant is ``403 Forbidden`` in Kubernetes' words. Discovery, ``/version``,
``/openapi`` and the self reviews stay open to every user, as Kubernetes' default
``system:discovery`` and ``system:basic-user`` ClusterRoles grant them (kawa has no default
ClusterRoles to say so).

**Reviews** (create-only, never stored; answered ``201`` with ``status`` filled in):
``authorization.k8s.io/v1`` SelfSubjectAccessReview (``kubectl auth can-i``),
SubjectAccessReview and LocalSubjectAccessReview (any user and groups; the requester needs
``create`` on them), SelfSubjectRulesReview (``kubectl auth can-i --list``), and
``authentication.k8s.io/v1`` SelfSubjectReview (``kubectl auth whoami``). Installed by
:class:`kawa.apiserver.server.ApiServer`; listed in discovery by
:mod:`kawa.apiserver.discovery`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import unquote

from aiohttp import web

from kawa import authorization
from kawa.apis.rbac import role as rbac_role
from kawa.apiserver import status
from kawa.apiserver.requests import read_object
from kawa.apiserver.responses import json_response
from kawa.authorization import Attributes, Decision, Policy, UserInfo
from kawa.errors import FieldError, ForbiddenError, KawaError, ValidationError
from kawa.store.base import ResourceStore

ADMIN: Final = UserInfo(
    "kawa-admin", (authorization.SUPERUSERS, authorization.AUTHENTICATED), uid="kawa-admin"
)
"""The holder of kawa's token."""

AUTHORIZATION: Final = "authorization.k8s.io"
AUTHENTICATION: Final = "authentication.k8s.io"

REVIEWS: Final = {
    (AUTHORIZATION, "v1"): (
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
        ("subjectaccessreviews", "SubjectAccessReview", False),
        ("localsubjectaccessreviews", "LocalSubjectAccessReview", True),
        ("selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
    ),
    (AUTHENTICATION, "v1"): (("selfsubjectreviews", "SelfSubjectReview", False),),
}
"""The review resources by group and version: (plural, kind, namespaced); verbs: create."""

LOCAL: Final = "localsubjectaccessreviews"
_RBAC_RESOURCES: Final = (
    "roles.rbac.authorization.k8s.io",
    "clusterroles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io",
)
_METHOD_VERBS: Final = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def user_of(request: web.Request) -> UserInfo:
    """The user a request acts as: the token holder, or whom it impersonates."""
    headers = request.headers
    name = headers.get("Impersonate-User", "")
    groups = tuple(headers.getall("Impersonate-Group", ()))
    uid = headers.get("Impersonate-Uid", "")
    extra: dict[str, tuple[str, ...]] = {}
    for key in headers:
        if key.lower().startswith("impersonate-extra-"):
            extra[unquote(key[len("impersonate-extra-") :]).lower()] = tuple(headers.getall(key))
    if not name:
        if groups or uid or extra:
            raise ValidationError.single(
                "", "impersonating groups, a uid or extra fields requires Impersonate-User"
            )
        return ADMIN
    if not groups and name.startswith("system:serviceaccount:"):
        namespace = name.split(":")[2] if name.count(":") == 3 else ""
        groups = authorization.service_account(namespace, "").groups[:2]
    if name != "system:anonymous" and authorization.AUTHENTICATED not in groups:
        groups = (*groups, authorization.AUTHENTICATED)
    return UserInfo(name, groups, uid, extra)


def impersonating(request: web.Request) -> bool:
    return "Impersonate-User" in request.headers or "Impersonate-Group" in request.headers


def request_verb(method: str, name: str | None, watch: bool) -> str:
    """The RBAC verb of a resource request."""
    if method in _METHOD_VERBS:
        return _METHOD_VERBS[method]
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    if watch:
        return "watch"
    return "get" if name else "list"


def forbidden_message(user: UserInfo, attrs: Attributes) -> str:
    """Kubernetes' words for a refused request."""
    subject = f'{attrs.resource} "{attrs.name}"' if attrs.name else attrs.full_resource
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return (
        f'{subject} is forbidden: User "{user.name}" cannot {attrs.verb} resource '
        f'"{attrs.full_resource}" in API group "{attrs.api_group}" {where}'
    )


class Reviews:
    """The review handlers and the RBAC check of impersonated requests."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store

    async def policy(self) -> Policy:
        lists = [await self._store.list(resource, None) for resource in _RBAC_RESOURCES]
        roles, cluster_roles, bindings, cluster_bindings = (r.items for r in lists)
        return Policy(roles, cluster_roles, bindings, cluster_bindings)

    async def check(self, request: web.Request, attrs: Attributes) -> None:
        """Raise 403 unless the request's user may do ``attrs`` (the token holder may)."""
        user = user_of(request)
        if user is ADMIN:
            return
        if not (await self.policy()).decide(user, attrs).allowed:
            raise ForbiddenError(forbidden_message(user, attrs))

    def install(self, app: web.Application) -> None:
        authz = f"/apis/{AUTHORIZATION}/v1"
        app.add_routes(
            [
                web.post(f"{authz}/selfsubjectaccessreviews", self._self_access),
                web.post(f"{authz}/subjectaccessreviews", self._access),
                web.post(f"{authz}/namespaces/{{namespace}}/{LOCAL}", self._local),
                web.post(f"{authz}/selfsubjectrulesreviews", self._self_rules),
                web.post(f"/apis/{AUTHENTICATION}/v1/selfsubjectreviews", self._self),
            ]
        )

    # -- handlers -------------------------------------------------------------------------

    async def _self_access(self, request: web.Request) -> web.StreamResponse:
        return await _answer(request, self._decide_self)

    async def _decide_self(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        attrs = _attributes(_spec(body))
        return _status(await self._decide(user_of(request), attrs))

    async def _access(self, request: web.Request) -> web.StreamResponse:
        return await _answer(request, self._decide_for_subject)

    async def _local(self, request: web.Request) -> web.StreamResponse:
        return await _answer(request, self._decide_for_subject)

    async def _decide_for_subject(
        self, request: web.Request, body: dict[str, Any]
    ) -> dict[str, Any]:
        namespace = request.match_info.get("namespace")
        plural = "localsubjectaccessreviews" if namespace else "subjectaccessreviews"
        wanted = Attributes("create", AUTHORIZATION, plural, namespace=namespace or "")
        await self.check(request, wanted)
        spec = _spec(body)
        attrs = _attributes(spec, namespace)
        user = str(spec.get("user") or "")
        groups = spec.get("groups") or []
        if not user and not groups:
            raise ValidationError.single(
                "spec.user", 'Invalid value: "": at least one of user or group must be specified'
            )
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ValidationError.single("spec.groups", "expected a list of strings")
        subject = UserInfo(user, tuple(groups), str(spec.get("uid") or ""))
        return _status(await self._decide(subject, attrs))

    async def _decide(self, user: UserInfo, attrs: Attributes) -> Decision:
        return (await self.policy()).decide(user, attrs)

    async def _self_rules(self, request: web.Request) -> web.StreamResponse:
        async def rules(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
            namespace = _spec(body).get("namespace") or ""
            if not isinstance(namespace, str):
                raise ValidationError.single("spec.namespace", "expected a string")
            user = user_of(request)
            if authorization.SUPERUSERS in user.groups:
                return {
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    "incomplete": False,
                }
            policy = await self.policy()
            resource_rules, url_rules = authorization.rules_for(policy, user, namespace)
            return {
                "resourceRules": [_resource_rule(r) for r in resource_rules],
                "nonResourceRules": [
                    {"verbs": list(r.verbs), "nonResourceURLs": list(r.non_resource_urls)}
                    for r in url_rules
                ],
                "incomplete": False,
            }

        return await _answer(request, rules)

    async def _self(self, request: web.Request) -> web.StreamResponse:
        async def who(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
            user = user_of(request)
            info: dict[str, Any] = {"username": user.name, "groups": list(user.groups)}
            if user.uid:
                info["uid"] = user.uid
            if user.extra:
                info["extra"] = {k: list(v) for k, v in user.extra.items()}
            return {"userInfo": info}

        return await _answer(request, who)


Decider = Callable[[web.Request, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _answer(request: web.Request, decide: Decider) -> web.StreamResponse:
    try:
        body = await read_object(request)
        result = await decide(request, body)
    except KawaError as err:
        return status.error_response(err)
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    answer = {
        "apiVersion": body.get("apiVersion") or "",
        "kind": body.get("kind") or "",
        "metadata": {**(metadata or {}), "creationTimestamp": None},
        "spec": body.get("spec") or {},
        "status": result,
    }
    return json_response(answer, 201)


def _spec(body: Mapping[str, Any]) -> dict[str, Any]:
    spec = body.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise ValidationError.single("spec", "expected an object")
    return spec


def _attributes(spec: Mapping[str, Any], namespace: str | None = None) -> Attributes:
    resource = spec.get("resourceAttributes")
    url = spec.get("nonResourceAttributes")
    if (resource is None) == (url is None):
        raise ValidationError.single(
            "spec.resourceAttributes",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
    if url is not None:
        if namespace is not None:
            raise ValidationError.single(
                "spec.nonResourceAttributes", "disallowed on this kind of request"
            )
        if not isinstance(url, dict):
            raise ValidationError.single("spec.nonResourceAttributes", "expected an object")
        return Attributes(str(url.get("verb") or ""), path=str(url.get("path") or ""))
    if not isinstance(resource, dict):
        raise ValidationError.single("spec.resourceAttributes", "expected an object")
    values = {k: resource.get(k) for k in ("verb", "group", "resource", "subresource", "name")}
    values["namespace"] = resource.get("namespace")
    problems = [
        FieldError(f"spec.resourceAttributes.{k}", "expected a string")
        for k, v in values.items()
        if v is not None and not isinstance(v, str)
    ]
    if problems:
        raise ValidationError(problems)
    if namespace is not None and (values["namespace"] or "") != namespace:
        raise ValidationError.single(
            "spec.resourceAttributes.namespace",
            f'Invalid value: "{values["namespace"] or ""}": must match metadata.namespace',
        )
    return Attributes(
        verb=str(values["verb"] or ""),
        api_group=str(values["group"] or ""),
        resource=str(values["resource"] or ""),
        subresource=str(values["subresource"] or ""),
        namespace=str(values["namespace"] or ""),
        name=str(values["name"] or ""),
    )


def _status(decision: Decision) -> dict[str, Any]:
    out: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        out["reason"] = decision.reason
    return out


def _resource_rule(rule: rbac_role.PolicyRule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "verbs": list(rule.verbs),
        "apiGroups": list(rule.api_groups),
        "resources": list(rule.resources),
    }
    if rule.resource_names:
        out["resourceNames"] = list(rule.resource_names)
    return out
