"""The ContainerSource reconciler: keeps the source's Pod running and reports its status.

For each ContainerSource (Knative's conditions, ``Ready`` from both):

- ``SinkBindingReady``: ``spec.sink`` resolves (``status.sinkUri``); else ``False`` with the
  reason (``NotFound``, ``NotAddressable``, ``InvalidSink`` ...). (Knative propagates it from
  the SinkBinding it creates; kawa resolves the sink here.)
- ``ReceiveAdapterReady``: the source's Pod is Ready; ``False`` with the container's reason
  (``CrashLoopBackOff`` ...) when it cannot run; ``Unknown`` while it starts.

The Pod (:func:`kawa.sources.container.pod.adapter_pod`) carries ``K_SINK`` and
``K_CE_OVERRIDES``; when the sink URL, the overrides or the template change, the Pod's name
changes: the new Pod is created, then the old ones deleted (a roll). While the sink does not
resolve, the Pods are left as they are (none is created). Pods owned by a source that no
longer exists (or by an older source of the same name) are deleted, since kawa's store has no
garbage collector for sources. Built by :func:`kawa.sources.container.container_sources`.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Final

from kawa.apis import core, features, meta
from kawa.apis import sources as sources_api
from kawa.apis.conditions import FALSE, TRUE, Clock
from kawa.apis.core import pod as core_pod
from kawa.apis.sources import containersource
from kawa.delivery.sender import TokenSource
from kawa.errors import ConflictError, KawaError, NotFoundError, ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FEATURES_KEY, FeatureFlags
from kawa.reconciler.oidc_accounts import ensure_service_account
from kawa.reconciler.resolver import Unresolvable
from kawa.reconciler.status import INVALID, Reconciling, StatusReconciler
from kawa.sources import oidc_token, sink
from kawa.sources.container import pod as adapter
from kawa.sources.sinkbinding import env
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

CONTAINERSOURCES: Final = sources_api.CONTAINERSOURCE.resource
PODS: Final = core.POD.resource
CONDITIONS: Final = containersource.CONTAINERSOURCE_CONDITIONS
SINK_BINDING_READY: Final = containersource.SINK_BINDING_READY
RECEIVE_ADAPTER_READY: Final = containersource.RECEIVE_ADAPTER_READY
WAITING_FOR_SINK: Final = "WaitingForSink"
POD_NOT_OWNED: Final = "PodNotOwned"
OIDC_TOKEN_FAILED: Final = "OIDCTokenFailed"


async def owned_pods(store: ResourceStore, namespace: str, name: str) -> list[Obj]:
    """The Pods whose ContainerSource owner reference names ``name`` (any uid)."""
    listed = await store.list(PODS, namespace)
    out: list[Obj] = []
    for item in listed.items:
        ref = adapter.owner_of(item)
        if ref is not None and ref.get("name") == name:
            out.append(item)
    return out


def _owned_by(pod: Obj, uid: Any) -> bool:
    return bool((adapter.owner_of(pod) or {}).get("uid") == uid)


class ContainerSourceReconciler(StatusReconciler[containersource.ContainerSource]):
    conditions = CONDITIONS
    invalid_condition = RECEIVE_ADAPTER_READY

    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        recorder: EventRecorder,
        *,
        tokens: TokenSource | None = None,
    ) -> None:
        super().__init__(store, clock, recorder)
        self._recorder = recorder
        self._features = FeatureFlags(store)
        self._tokens = tokens

    def parse(self, obj: Obj) -> containersource.ContainerSource:
        return containersource.parse_containersource(obj)

    async def observe_deletion(self, key: ResourceKey) -> None:
        await self._delete_pods(await owned_pods(self.store, key.namespace, key.name))

    async def prepare(self, key: ResourceKey, obj: Obj, status: dict[str, Any]) -> None:
        """Pods of an older source of the same name go, whatever this one says."""
        uid = meta.metadata_of(obj).get("uid")
        pods = await owned_pods(self.store, key.namespace, key.name)
        await self._delete_pods([p for p in pods if not _owned_by(p, uid)])

    async def reconcile_kind(self, current: Reconciling[containersource.ContainerSource]) -> None:
        key, obj, status, clock = current.key, current.obj, current.status, self.clock
        meta.set_observed_generation(status, current.spec.generation)
        uid = meta.metadata_of(obj).get("uid")
        pods = [
            p for p in await owned_pods(self.store, key.namespace, key.name) if _owned_by(p, uid)
        ]
        audience: str | None = None
        ca_certs: str | None = None
        try:
            address = await sink.resolve_sink_address(self.store, obj, track=current.track)
        except Unresolvable as err:
            url = None
            status.pop("sinkUri", None)
            status.pop("sinkCACerts", None)
            CONDITIONS.mark_false(status, SINK_BINDING_READY, err.reason, err.message, clock=clock)
        else:
            url, audience, ca_certs = address.url, address.audience, address.ca_certs
            status["sinkUri"] = url
            if ca_certs:
                status["sinkCACerts"] = ca_certs
            else:
                status.pop("sinkCACerts", None)
            CONDITIONS.mark_true(status, SINK_BINDING_READY, clock=clock)
        token_secret: str | None = None
        if url is not None:
            try:
                token_secret = await self._token_secret(current, audience)
            except KawaError as err:  # as Knative's SinkBinding child would not be Ready
                message = f"cannot give the container an OIDC token: {err}"
                CONDITIONS.mark_false(
                    status, SINK_BINDING_READY, OIDC_TOKEN_FAILED, message, clock=clock
                )
                return

        pod: Obj | None = None
        if url is not None:
            desired = adapter.adapter_pod(
                containersource.default_containersource(obj),
                url,
                env.ce_overrides_json(obj),
                token_secret,
                ca_certs,
            )
            try:
                core_pod.validate_pod(desired)
            except ValidationError as err:
                message = f"spec.template does not make a valid Pod: {err}"
                CONDITIONS.mark_false(status, RECEIVE_ADAPTER_READY, INVALID, message, clock=clock)
                return
            try:
                pod = await self._ensure(obj, desired, pods)
            except ConflictError:
                name = desired["metadata"]["name"]
                CONDITIONS.mark_false(
                    status,
                    RECEIVE_ADAPTER_READY,
                    POD_NOT_OWNED,
                    f"Pod {name!r} exists and is not owned by this ContainerSource",
                    clock=clock,
                )
                return
        elif pods:
            pod = max(pods, key=lambda p: str(meta.metadata_of(p).get("creationTimestamp")))

        if pod is None:
            CONDITIONS.mark_unknown(
                status,
                RECEIVE_ADAPTER_READY,
                WAITING_FOR_SINK,
                "the container starts once spec.sink resolves",
                clock=clock,
            )
        else:
            state, reason, message = adapter.adapter_condition(pod)
            if state == TRUE:
                CONDITIONS.mark_true(status, RECEIVE_ADAPTER_READY, clock=clock)
            elif state == FALSE:
                CONDITIONS.mark_false(status, RECEIVE_ADAPTER_READY, reason, message, clock=clock)
            else:
                CONDITIONS.mark_unknown(status, RECEIVE_ADAPTER_READY, reason, message, clock=clock)

    async def _ensure(self, source: Obj, desired: Obj, pods: list[Obj]) -> Obj:
        """Create ``desired`` unless it runs, then delete the source's other Pods; raises
        ConflictError when a Pod of its name exists that is not the source's."""
        name = desired["metadata"]["name"]
        namespace = desired["metadata"]["namespace"]
        current = next((p for p in pods if meta.metadata_of(p).get("name") == name), None)
        if current is not None and _node_lost(current):  # its node is gone: made anew
            with contextlib.suppress(NotFoundError):
                await self.store.delete(ResourceKey(PODS, namespace, name))
            current = None
        if current is None:
            # ConflictError: a Pod of that name that is not this source's
            current = await self.store.create(ResourceKey(PODS, namespace, name), desired)
            await self._recorder.record(source, "Normal", "PodCreated", f"Created Pod {name!r}")
        old = [p for p in pods if meta.metadata_of(p).get("name") != name]
        await self._delete_pods(old, source)
        return current

    async def _delete_pods(self, pods: list[Obj], source: Obj | None = None) -> None:
        for item in pods:
            name = str(meta.metadata_of(item).get("name", ""))
            try:
                await self.store.delete(ResourceKey(PODS, meta.namespace_of(item), name))
            except NotFoundError:
                continue
            if source is not None:
                await self._recorder.record(source, "Normal", "PodDeleted", f"Deleted Pod {name!r}")
            else:
                log.info(
                    "deleted pod %s/%s: its ContainerSource is gone", meta.namespace_of(item), name
                )

    async def _token_secret(
        self, current: Reconciling[containersource.ContainerSource], audience: str | None
    ) -> str | None:
        """With authentication-oidc on and a sink that names its audience: the source's own
        ServiceAccount (``status.auth``) and the Secret its container reads at
        ``/oidc/token``, as the SinkBinding Knative makes for a ContainerSource gives it;
        its name, else ``None`` (and, with the flag off, no Secret is left)."""
        current.track(FEATURES_KEY)
        key = oidc_token.secret_key(current.key.namespace, current.key.name)
        if not (await self._features.current()).oidc:
            current.status.pop("auth", None)
            await oidc_token.delete(self.store, key, current.obj)
            return None
        account = features.oidc_service_account_name(
            containersource.API_VERSION, containersource.KIND, current.key.name
        )
        await ensure_service_account(self.store, current.key.namespace, account, current.obj)
        current.status["auth"] = {"serviceAccountName": account}
        if not audience:
            return None  # a sink without an audience wants no token
        if self._tokens is None:
            raise KawaError("kawa issues no tokens here")
        token = await self._tokens(current.key.namespace, account, audience)
        await oidc_token.write(self.store, key, token, current.obj)
        return key.name


def _node_lost(pod: Obj) -> bool:
    """Failed by the node lifecycle controller (its node stopped renewing its Lease)."""
    status = pod.get("status") or {}
    return bool(status.get("phase") == "Failed" and status.get("reason") == "NodeLost")
