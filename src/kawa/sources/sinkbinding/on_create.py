"""Binding a subject as it is created, as Knative's SinkBinding webhook does.

The reconciler binds the subjects that exist by updating them. Some cannot wait for that: a
Job's pod template is immutable and its first Pod starts at once (a CronJob's Jobs, in
Knative's SinkBinding tutorial), and a bare Pod would be recreated. So every create of a
subject kind goes through :func:`bind_on_create` first (installed by :mod:`kawa.runtime` on
the store, which every writer uses): when a SinkBinding of the namespace selects the new
object and its sink is resolved (``status.sinkUri``), the object is stored with ``K_SINK``,
``K_CE_OVERRIDES`` and the bound-by annotation already in its pod spec. The reconciler then
finds it bound and leaves it as it is.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from kawa.apis import meta
from kawa.apis import sources as sources_api
from kawa.apis.sources import sinkbinding
from kawa.errors import ValidationError
from kawa.sources.sinkbinding import env, subjects
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

SINKBINDINGS: Final = sources_api.SINKBINDING.resource
_BY_RESOURCE: Final = {kind.resource: kind for kind in subjects.KINDS}

Mutator = Callable[[ResourceKey, Obj], Awaitable[Obj]]


def _sink_uri(binding: Mapping[str, Any]) -> str | None:
    status = binding.get("status")
    uri = status.get("sinkUri") if isinstance(status, Mapping) else None
    return uri if isinstance(uri, str) and uri else None


def bind_on_create(store: ResourceStore) -> Mutator:
    """The create hook: ``obj`` (about to be stored at ``key``) with the sink of the
    SinkBinding that selects it, else ``obj`` unchanged."""

    async def bind(key: ResourceKey, obj: Obj) -> Obj:
        kind = _BY_RESOURCE.get(key.resource)
        if kind is None:
            return obj
        placed = copy.deepcopy(obj)
        metadata = placed.setdefault("metadata", {})
        metadata["name"], metadata["namespace"] = key.name, key.namespace
        if kind is subjects.POD and not subjects.pod_is_bindable(placed):
            return obj  # a controller's Pod: its owner's template carries the sink
        if subjects.bound_by(placed) is not None:
            return obj
        listed = await store.list(SINKBINDINGS, key.namespace)
        for item in listed.items:
            url = _sink_uri(item)
            if url is None or meta.metadata_of(item).get("deletionTimestamp"):
                continue
            try:
                binding = sinkbinding.parse_sinkbinding(item)
            except ValidationError:
                continue
            if subjects.kind_of(binding.spec.subject) is not kind:
                continue
            if not subjects.selects(binding.spec.subject, placed):
                continue
            pod_spec = subjects.pod_spec_of(kind, placed)
            if pod_spec is None:
                return obj
            env.bind(
                pod_spec,
                url,
                env.ce_overrides_json(item),
                env.token_secret_of(item),
                env.ca_certs_of(item),
            )
            subjects.set_bound_by(placed, binding.name)
            log.info("%s %s bound to %s as it is created", kind.kind, key, url)
            return placed
        return obj

    return bind
