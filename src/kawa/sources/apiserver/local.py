"""kawa's own API server as the :class:`~kawa.sources.apiserver.watch.Cluster` of a source.

Objects come straight from the resource store (list, then ``store.watch(since=rv)``); kinds
are those of kawa's scheme (objects are converted to the apiVersion the source asked for);
the source's ServiceAccount must exist (``default`` always does: Kubernetes' ServiceAccount
controller keeps one in every namespace), and permissions are decided by
:func:`kawa.authorization.allowed` over the Roles, ClusterRoles, RoleBindings and
ClusterRoleBindings stored in kawa: the ServiceAccount needs ``get``, ``list`` and ``watch``
on every resource, in every namespace it watches. The default cluster of every
ApiServerSource; built by :mod:`kawa.sources.apiserver`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from kawa import authorization
from kawa.apis import core, rbac
from kawa.apis.kinds import ResourceKind
from kawa.apis.label_selector import LabelSelector
from kawa.apis.registry import SCHEME, Scheme
from kawa.errors import NotFoundError, ValidationError
from kawa.sources.apiserver.watch import KindInfo, Listing, Obj, WatchChange
from kawa.store.base import ResourceKey, ResourceStore

VERBS: Final = ("get", "list", "watch")
NAMESPACES: Final = core.NAMESPACE.resource
SERVICE_ACCOUNTS: Final = core.SERVICE_ACCOUNT.resource
DEFAULT_SERVICE_ACCOUNT: Final = "default"
RBAC_RESOURCES: Final = tuple(kind.resource for kind in rbac.KINDS)


def scope(namespace: str) -> str:
    return f"in namespace {namespace}" if namespace else "at the cluster scope"


class StoreWatcher:
    """:class:`~kawa.sources.apiserver.watch.ObjectWatcher` over kawa's resource store."""

    def __init__(
        self, store: ResourceStore, rk: ResourceKind, api_version: str, namespace: str
    ) -> None:
        self._store = store
        self._rk = rk
        self._api_version = api_version
        self._namespace = namespace or None

    def _view(self, obj: Obj) -> Obj:
        if obj.get("apiVersion") == self._api_version:
            return obj
        return dict(self._rk.to_version(obj, self._api_version))

    async def list(self) -> Listing:
        listed = await self._store.list(self._rk.resource, self._namespace)
        return Listing([self._view(o) for o in listed.items], str(listed.resource_version))

    async def watch(self, since: str) -> AsyncIterator[WatchChange]:
        try:
            start = int(since)
        except ValueError:
            raise ValidationError.single(
                "resourceVersion", f"not a resourceVersion of kawa: {since!r}"
            ) from None
        async for event in self._store.watch(self._rk.resource, self._namespace, since=start):
            yield WatchChange(event.type, self._view(event.object), str(event.resource_version))


class StoreCluster:
    """The local :class:`~kawa.sources.apiserver.watch.Cluster` (``url``: kawa's API URL)."""

    def __init__(self, store: ResourceStore, url: str, scheme: Scheme = SCHEME) -> None:
        self._store = store
        self._url = url
        self._scheme = scheme

    @property
    def url(self) -> str:
        return self._url

    def _kind(self, api_version: str, kind: str) -> ResourceKind:
        try:
            return self._scheme.for_api_version_kind(api_version, kind)
        except ValidationError:
            served = [
                v for rk in self._scheme.kinds if rk.kind == kind for v in rk.served_api_versions
            ]
            hint = f" (it is served as {', '.join(served)})" if served else ""
            raise NotFoundError(f"{kind} ({api_version}) is not a kind kawa serves{hint}") from None

    async def kind_info(self, api_version: str, kind: str) -> KindInfo:
        rk = self._kind(api_version, kind)
        group = api_version.rpartition("/")[0]
        return KindInfo(api_version, kind, rk.plural, group, rk.namespaced)

    async def namespaces(self, selector: LabelSelector) -> list[str]:
        listed = await self._store.list(NAMESPACES)
        names = []
        for obj in listed.items:
            labels = obj.get("metadata", {}).get("labels") or {}
            if selector.matches({str(k): str(v) for k, v in labels.items()}):
                names.append(str(obj["metadata"]["name"]))
        return sorted(names)

    async def namespace_exists(self, name: str) -> bool:
        try:
            await self._store.get(ResourceKey(NAMESPACES, "", name))
        except NotFoundError:
            return False
        return True

    async def missing_service_account(self, service_account: tuple[str, str]) -> str | None:
        namespace, name = service_account
        if name == DEFAULT_SERVICE_ACCOUNT:
            return None
        try:
            await self._store.get(ResourceKey(SERVICE_ACCOUNTS, namespace, name))
        except NotFoundError:
            return f'ServiceAccount "{name}" not found in namespace {namespace}'
        return None

    async def missing_permissions(
        self, info: KindInfo, namespace: str, service_account: tuple[str, str]
    ) -> list[str]:
        roles, cluster_roles, role_bindings, cluster_role_bindings = [
            (await self._store.list(resource)).items for resource in RBAC_RESOURCES
        ]
        sa_namespace, sa_name = service_account
        return [
            f"cannot {verb} {info.resource} {scope(namespace)}"
            for verb in VERBS
            if not authorization.allowed(
                roles,
                cluster_roles,
                role_bindings,
                cluster_role_bindings,
                service_account_namespace=sa_namespace,
                service_account_name=sa_name,
                verb=verb,
                api_group=info.group,
                resource=info.plural,
                namespace=namespace,
            )
        ]

    def watcher(self, info: KindInfo, namespace: str) -> StoreWatcher:
        rk = self._kind(info.api_version, info.kind)
        return StoreWatcher(self._store, rk, info.api_version, namespace)
