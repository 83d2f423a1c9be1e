"""The SinkBinding reconciler: gives the subjects ``K_SINK`` and ``K_CE_OVERRIDES``.

For each SinkBinding:

- ``SinkProvided``: ``spec.sink`` resolves (``status.sinkUri``), else ``False`` with the
  reason (``NotFound``, ``NotAddressable`` ...). While it does not resolve, the subjects are
  left as they are (no roll to a workload without a sink).
- ``BindingAvailable``: every subject it selects is bound. ``False`` with reason
  ``SubjectMissing`` (the subject named does not exist), ``SubjectUnsupported`` (a kind kawa
  cannot bind) or ``SubjectConflict`` (a subject already bound by another SinkBinding).
- ``Ready`` from both; ``observedGeneration``.

Binding a Service or a ContainerSource updates its ``spec.template`` (a Service then rolls out
a new Revision; a ContainerSource a new Pod, though its own sink wins in its Pod, as in
Knative). Binding a Pod recreates it (Pods are immutable), see :mod:`.subjects`. Subjects the
binding no longer selects, and all of them once it is deleted, get the environment removed
the same way. Built by :func:`kawa.sources.sinkbinding.sink_bindings`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Collection
from typing import Any, Final

from kawa.apis import duck, kn_common, meta
from kawa.apis import sources as sources_api
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.core import pod as core_pod
from kawa.apis.sources import sinkbinding
from kawa.delivery.sender import TokenSource
from kawa.errors import ConflictError, KawaError, NotFoundError, TemporaryError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FeatureFlags
from kawa.reconciler.oidc_accounts import reconcile_identity
from kawa.reconciler.resolver import Unresolvable
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.sources import oidc_token, sink
from kawa.sources.sinkbinding import env, subjects
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

SINKBINDINGS: Final = sources_api.SINKBINDING.resource
SINK_PROVIDED: Final = kn_common.SINK_PROVIDED
BINDING_AVAILABLE: Final = "BindingAvailable"
CONDITIONS: Final = ConditionSet(
    (
        SINK_PROVIDED,
        BINDING_AVAILABLE,
        duck.OIDC_IDENTITY_CREATED,
        sinkbinding.OIDC_TOKEN_SECRET_CREATED,
    )
)
SUBJECT_MISSING: Final = "SubjectMissing"
SUBJECT_UNSUPPORTED: Final = "SubjectUnsupported"
SUBJECT_CONFLICT: Final = "SubjectConflict"


class SinkBindingReconciler(StatusReconciler[sinkbinding.SinkBinding]):
    conditions = CONDITIONS
    invalid_condition = BINDING_AVAILABLE

    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        recorder: EventRecorder | None = None,
        *,
        tokens: TokenSource | None = None,
    ) -> None:
        super().__init__(store, clock, recorder)
        self._features = FeatureFlags(store)
        self._tokens = tokens

    def parse(self, obj: Obj) -> sinkbinding.SinkBinding:
        return sinkbinding.parse_sinkbinding(obj)

    async def observe_deletion(self, key: ResourceKey) -> None:
        await self._release(key.namespace, key.name, keep=())

    async def observe_invalid(self, key: ResourceKey, obj: Obj) -> None:
        await self._release(key.namespace, key.name, keep=())

    async def reconcile_kind(self, current: Reconciling[sinkbinding.SinkBinding]) -> None:
        key, obj, status, binding = current.key, current.obj, current.status, current.spec
        clock = self.clock
        meta.set_observed_generation(status, binding.generation)
        try:
            address = await sink.resolve_sink_address(self.store, obj, track=current.track)
        except Unresolvable as err:
            sink.set_sink_status(status, None, err, clock, conditions=CONDITIONS)
            return
        url = address.url
        sink.set_sink_status(
            status,
            url,
            None,
            clock,
            conditions=CONDITIONS,
            audience=address.audience,
            ca_certs=address.ca_certs,
        )
        token_secret = await self._token_secret(current, address.audience)
        subject = binding.spec.subject
        kind = subjects.kind_of(subject)
        if kind is None:
            await self._release(key.namespace, key.name, keep=())
            CONDITIONS.mark_false(
                status,
                BINDING_AVAILABLE,
                SUBJECT_UNSUPPORTED,
                f"kawa cannot bind {subject.kind} ({subject.api_version}); "
                f"it binds {subjects.supported()}",
                clock=clock,
            )
        else:
            await self._bind_all(
                binding,
                kind,
                url,
                env.ce_overrides_json(obj),
                status,
                token_secret,
                address.ca_certs,
            )

    async def _bind_all(
        self,
        binding: sinkbinding.SinkBinding,
        kind: subjects.SubjectKind,
        url: str,
        overrides: str,
        status: dict[str, Any],
        token_secret: str | None = None,
        ca_certs: str | None = None,
    ) -> None:
        clock = self.clock
        listed = await self.store.list(kind.resource, binding.namespace)
        selected = [o for o in listed.items if subjects.selects(binding.spec.subject, o)]
        conflicts: list[str] = []
        kept: set[tuple[str, str]] = set()
        for obj in selected:
            name = str(meta.metadata_of(obj).get("name", ""))
            other = subjects.bound_by(obj)
            if (
                other is not None
                and other != binding.name
                and await self._exists(binding.namespace, other)
            ):
                conflicts.append(f"{kind.kind} {name!r} is bound by SinkBinding {other!r}")
                continue
            kept.add((kind.resource, name))
            if kind is subjects.POD and not subjects.pod_is_bindable(obj):
                continue
            await self._apply(kind, obj, binding.name, url, overrides, token_secret, ca_certs)
        await self._release(binding.namespace, binding.name, keep=kept)
        if conflicts:
            message = "; ".join(conflicts)
            CONDITIONS.mark_false(status, BINDING_AVAILABLE, SUBJECT_CONFLICT, message, clock=clock)
        elif binding.spec.subject.name is not None and not selected:
            CONDITIONS.mark_false(
                status,
                BINDING_AVAILABLE,
                SUBJECT_MISSING,
                f"{kind.describe()} {binding.spec.subject.name!r} not found in namespace "
                f"{binding.namespace!r}",
                clock=clock,
            )
        else:
            CONDITIONS.mark_true(status, BINDING_AVAILABLE, clock=clock)

    async def _exists(self, namespace: str, name: str) -> bool:
        try:
            await self.store.get(ResourceKey(SINKBINDINGS, namespace, name))
        except NotFoundError:
            return False
        return True

    async def _apply(
        self,
        kind: subjects.SubjectKind,
        obj: Obj,
        binding: str | None,
        url: str | None,
        overrides: str,
        token_secret: str | None = None,
        ca_certs: str | None = None,
    ) -> None:
        """Bind ``obj`` (``url`` set) or unbind it (``url`` None), if that changes anything."""
        new = copy.deepcopy(obj)
        pod_spec = subjects.pod_spec_of(kind, new)
        if pod_spec is None:
            return
        if url is None:
            env.unbind(pod_spec)
        else:
            env.bind(pod_spec, url, overrides, token_secret, ca_certs)
        subjects.set_bound_by(new, binding)
        if new == obj:
            return
        name = str(meta.metadata_of(obj).get("name", ""))
        key = ResourceKey(kind.resource, meta.namespace_of(obj), name)
        what = "bound to" if url is not None else "unbound from"
        if kind is subjects.POD:
            await self._recreate(key, subjects.recreated_pod(new, pod_spec))
        else:
            try:
                await self.store.update(key, new)
            except ConflictError as err:
                raise TemporaryError(str(err), delay=0.0) from err
            except NotFoundError:
                return
        log.info("%s %s/%s %s %s", kind.kind, key.namespace, name, what, url or "its sink")

    async def _recreate(self, key: ResourceKey, pod: Obj) -> None:
        try:
            await self.store.delete(key)
        except NotFoundError:
            return
        try:
            await self.store.create(key, core_pod.default_pod(pod))
        except ConflictError as err:  # someone made a Pod of that name meanwhile
            log.warning("cannot recreate %s with the sink's environment: %s", key, err)

    async def _release(
        self, namespace: str, binding: str, *, keep: Collection[tuple[str, str]]
    ) -> None:
        """Unbind the subjects ``binding`` bound that are not in ``keep``."""
        for kind in subjects.KINDS:
            listed = await self.store.list(kind.resource, namespace)
            for obj in listed.items:
                name = str(meta.metadata_of(obj).get("name", ""))
                if subjects.bound_by(obj) != binding or (kind.resource, name) in keep:
                    continue
                if kind is subjects.POD and not subjects.pod_is_bindable(obj):
                    continue
                await self._apply(kind, obj, None, None, "")

    async def _token_secret(
        self, current: Reconciling[sinkbinding.SinkBinding], audience: str | None
    ) -> str | None:
        """With authentication-oidc on: the binding's own ServiceAccount, and the Secret
        ``<name>-oidc-token`` holding its token for the sink's audience (renewed as the token
        is), which bound containers find at ``/oidc/token``; its name, else ``None``."""
        status, clock = current.status, self.clock
        account = await reconcile_identity(
            self.store,
            self._features,
            CONDITIONS,
            current,
            api_version=sinkbinding.API_VERSION,
            kind=sinkbinding.KIND,
            clock=clock,
        )
        key = oidc_token.secret_key(current.key.namespace, current.key.name)
        name = key.name
        failed = "Unable to reconcile OIDC token secret"
        if account is None:
            status.pop("oidcTokenSecretName", None)
            if (await self._features.current()).oidc:  # no identity (its condition says why)
                CONDITIONS.mark_false(
                    status,
                    sinkbinding.OIDC_TOKEN_SECRET_CREATED,
                    failed,
                    "the SinkBinding has no OIDC identity yet",
                    clock=clock,
                )
                return None
            await oidc_token.delete(self.store, key, current.obj)
            CONDITIONS.mark_true(
                status, sinkbinding.OIDC_TOKEN_SECRET_CREATED, duck.OIDC_DISABLED, clock=clock
            )
            return None
        if not audience:
            status.pop("oidcTokenSecretName", None)
            message = f"sinkAudience must be set on {current.key.namespace}/{current.key.name}"
            CONDITIONS.mark_false(
                status, sinkbinding.OIDC_TOKEN_SECRET_CREATED, failed, message, clock=clock
            )
            return None
        try:
            if self._tokens is None:
                raise KawaError("kawa issues no tokens here")
            token = await self._tokens(current.key.namespace, account, audience)
            await oidc_token.write(self.store, key, token, current.obj)
        except KawaError as err:
            status.pop("oidcTokenSecretName", None)
            CONDITIONS.mark_false(
                status, sinkbinding.OIDC_TOKEN_SECRET_CREATED, failed, str(err), clock=clock
            )
            return None
        status["oidcTokenSecretName"] = name
        CONDITIONS.mark_true(status, sinkbinding.OIDC_TOKEN_SECRET_CREATED, clock=clock)
        return name
