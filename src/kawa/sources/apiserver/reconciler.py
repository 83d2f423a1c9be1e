"""The ApiServerSource reconciler: status, permissions, and which adapters run.

For each source it resolves the sink (``status.sinkUri``, ``SinkProvided``), picks its
cluster (:mod:`.clusters`), asks the cluster how each kind is named, which namespaces the
``namespaceSelector`` selects (``status.namespaces``; without one: the source's namespace),
whether the ServiceAccount exists (else ``SufficientPermissions`` False, reason
``ServiceAccountNotFound``) and whether it may get, list and watch every resource there
(``SufficientPermissions``, whose message names each missing permission, e.g. ``cannot list
events in namespace default``). Every kind the cluster does not serve is named in one
``UnknownKind`` message. ``status.ceAttributes`` lists the event types of the mode.

When the sink resolves and the permissions suffice, the source's adapter runs
(``Deployed``); otherwise it is stopped (``Deployed`` Unknown: ``Ready`` then carries the
reason of the condition that failed). A sink that refused the last event makes
``SinkProvided`` False (reason ``Unreachable``) while the adapter keeps running. The
controller watches the sources and everything their status depends on: the RBAC objects
(revoking a binding stops the source within moments), ServiceAccounts, namespaces, Secrets
(kubeconfigs), and the sink it tracked; a periodic resync catches the rest.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from kawa.apis import core
from kawa.apis import sources as sources_api
from kawa.apis.conditions import Clock
from kawa.apis.meta import set_observed_generation
from kawa.apis.sources import apiserversource as api
from kawa.delivery.sender import Identity
from kawa.errors import (
    ForbiddenError,
    NotFoundError,
)
from kawa.reconciler.features import FeatureFlags
from kawa.reconciler.loop import Controller, Watch, every, in_namespace
from kawa.reconciler.oidc_accounts import reconcile_identity
from kawa.reconciler.resolver import Unresolvable
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.sources import sink
from kawa.sources.apiserver import events, remote
from kawa.sources.apiserver.adapter import AdapterConfig, Adapters, Stream
from kawa.sources.apiserver.clusters import Clusters, ClusterUnavailable
from kawa.sources.apiserver.local import NAMESPACES, RBAC_RESOURCES, scope
from kawa.sources.apiserver.watch import Cluster, KindInfo
from kawa.sources.controller import source_controller
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

APISERVERSOURCES: Final = sources_api.APISERVERSOURCE.resource
CONDITIONS: Final = api.APISERVERSOURCE_CONDITIONS
NOT_DEPLOYED: Final = "NotDeployed"
INSUFFICIENT: Final = "InsufficientPermissions"
SERVICE_ACCOUNT_NOT_FOUND: Final = "ServiceAccountNotFound"
SERVICE_ACCOUNTS: Final = core.SERVICE_ACCOUNT.resource


class _NotReady(Exception):
    def __init__(self, condition: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.condition = condition
        self.reason = reason
        self.message = message


def _adapter_name(key: ResourceKey) -> str:
    return f"{key.namespace}/{key.name}"


class ApiServerSourceReconciler(StatusReconciler[api.ApiServerSource]):
    conditions = CONDITIONS
    invalid_condition = api.DEPLOYED

    def __init__(
        self, store: ResourceStore, clusters: Clusters, adapters: Adapters, clock: Clock
    ) -> None:
        super().__init__(store, clock)
        self._clusters = clusters
        self._adapters = adapters
        self._features = FeatureFlags(store)

    def parse(self, obj: Obj) -> api.ApiServerSource:
        return api.parse_apiserversource(obj)

    async def observe_deletion(self, key: ResourceKey) -> None:
        await self._adapters.forget(_adapter_name(key))

    async def prepare(self, key: ResourceKey, obj: Obj, status: dict[str, Any]) -> None:
        await self._adapters.remember(
            _adapter_name(key), str(obj.get("metadata", {}).get("uid", ""))
        )

    async def observe_invalid(self, key: ResourceKey, obj: Obj) -> None:
        await self._adapters.stop(_adapter_name(key))

    async def reconcile_kind(self, current: Reconciling[api.ApiServerSource]) -> None:
        name = _adapter_name(current.key)
        obj, status, source, clock = current.obj, current.status, current.spec, self.clock
        url: str | None = None
        audience: str | None = None
        ca_certs: str | None = None
        try:
            address = await sink.resolve_sink_address(self.store, obj, track=current.track)
        except Unresolvable as err:
            sink.set_sink_status(status, None, err, clock, conditions=CONDITIONS)
        else:
            url, audience, ca_certs = address.url, address.audience, address.ca_certs
            delivery = self._adapters.last_delivery(name)
            sink.set_sink_status(
                status,
                url,
                None,
                clock,
                conditions=CONDITIONS,
                delivery=delivery,
                audience=audience,
                ca_certs=ca_certs,
            )
        account = await reconcile_identity(
            self.store,
            self._features,
            CONDITIONS,
            current,
            api_version=api.API_VERSION,
            kind=api.KIND,
            clock=clock,
        )
        try:
            cluster = await self._clusters.for_source(obj)
            status["ceAttributes"] = [
                {"type": t, "source": cluster.url} for t in events.event_types(source.spec.mode)
            ]
            streams = await self._streams(cluster, source, status)
        except _NotReady as err:
            await self._adapters.stop(name)
            if err.condition == api.SUFFICIENT_PERMISSIONS:
                CONDITIONS.mark_unknown(
                    status, api.DEPLOYED, NOT_DEPLOYED, err.message, clock=clock
                )
            CONDITIONS.mark_false(status, err.condition, err.reason, err.message, clock=clock)
        except ClusterUnavailable as err:
            await self._adapters.stop(name)
            CONDITIONS.mark_false(status, api.DEPLOYED, err.reason, err.message, clock=clock)
        else:
            CONDITIONS.mark_true(status, api.SUFFICIENT_PERMISSIONS, clock=clock)
            if url:
                config = AdapterConfig(
                    source.uid,
                    source.spec.mode,
                    url,
                    source.spec.extensions,
                    cluster,
                    streams,
                    sink_audience=audience,
                    sink_ca_certs=ca_certs,
                    identity=Identity(current.key.namespace, account) if account else None,
                )
                await self._adapters.ensure(name, config)
                CONDITIONS.mark_true(status, api.DEPLOYED, clock=clock)
            else:
                await self._adapters.stop(name)
                CONDITIONS.mark_unknown(
                    status, api.DEPLOYED, NOT_DEPLOYED, "waiting for the sink", clock=clock
                )
        set_observed_generation(status, source.generation)

    async def _streams(
        self, cluster: Cluster, source: api.ApiServerSource, status: dict[str, Any]
    ) -> tuple[Stream, ...]:
        """The streams the source watches (raises :class:`_NotReady` saying what is wrong)."""
        try:
            infos: list[tuple[KindInfo, api.APIVersionKindSelector]] = []
            unknown: list[str] = []
            for resource in source.spec.resources:
                try:
                    info = await cluster.kind_info(resource.api_version, resource.kind)
                except NotFoundError as err:
                    unknown.append(str(err))
                    continue
                infos.append((info, resource))
            if unknown:
                raise _NotReady(api.DEPLOYED, "UnknownKind", "; ".join(unknown))
            if source.spec.namespace_selector is None:
                namespaces = [source.namespace]
            else:
                try:
                    namespaces = await cluster.namespaces(source.spec.namespace_selector)
                except ForbiddenError as err:
                    raise _NotReady(
                        api.SUFFICIENT_PERMISSIONS,
                        INSUFFICIENT,
                        f"cannot list namespaces {scope('')}: {err}",
                    ) from None
            status["namespaces"] = namespaces
            account = (source.namespace, source.spec.service_account_name)
            absent = await cluster.missing_service_account(account)
            if absent is not None:
                raise _NotReady(api.SUFFICIENT_PERMISSIONS, SERVICE_ACCOUNT_NOT_FOUND, absent)
            streams: list[Stream] = []
            missing: list[str] = []
            for info, resource in infos:
                for namespace in namespaces if info.namespaced else [""]:
                    missing += await cluster.missing_permissions(info, namespace, account)
                    streams.append(
                        Stream(info, namespace, resource.selector, source.spec.owner_filter)
                    )
        except ForbiddenError as err:  # a remote server refused the credentials
            raise _NotReady(
                api.SUFFICIENT_PERMISSIONS, INSUFFICIENT, f"{cluster.url}: {err}"
            ) from None
        except (_NotReady, ClusterUnavailable):
            raise
        except Exception as err:  # the remote cluster does not answer
            raise ClusterUnavailable(
                "ClusterUnreachable", remote.describe_failure(cluster.url, err)
            ) from None
        if missing:
            who = (
                f'ServiceAccount "{source.spec.service_account_name}" '
                f"(namespace {source.namespace})"
            )
            raise _NotReady(
                api.SUFFICIENT_PERMISSIONS, INSUFFICIENT, f"{who}: {', '.join(missing)}"
            )
        return tuple(streams)


def apiserversource_controller(
    store: ResourceStore, clusters: Clusters, adapters: Adapters, clock: Clock
) -> Controller:
    """The controller of ApiServerSources; it requeues a source when its adapter reports."""
    reconciler = ApiServerSourceReconciler(store, clusters, adapters, clock)
    controller = source_controller(
        sources_api.APISERVERSOURCE,
        reconciler,
        watches=[
            *(Watch(resource, every(store, APISERVERSOURCES)) for resource in RBAC_RESOURCES),
            Watch(NAMESPACES, every(store, APISERVERSOURCES)),
            Watch(SERVICE_ACCOUNTS, in_namespace(store, APISERVERSOURCES)),
            Watch(core.SECRET.resource, in_namespace(store, APISERVERSOURCES)),
        ],
    )

    def requeue(name: str) -> None:
        namespace, _, source_name = name.partition("/")
        controller.enqueue(APISERVERSOURCES, namespace, source_name)

    adapters.on_change = requeue
    return controller
