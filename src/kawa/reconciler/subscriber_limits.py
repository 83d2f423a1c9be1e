"""What a Knative Service subscriber can take at once: ``kawa.dev/subscriber-max-in-flight``.

When a Trigger's or a Subscription's subscriber is a ``ref`` to a Knative Service
(``serving.knative.dev``), :func:`service_max_in_flight` reads the Service's
``spec.template`` (what its Revisions are made from: ``containerConcurrency`` and the
``autoscaling.knative.dev/*`` annotations) under ConfigMap
``knative-serving/config-autoscaler`` and gives
:func:`kawa.apis.serving.autoscaling.capacity` of them: the requests the Service holds at once
at its max-scale. Both are tracked, so a change to either reconciles the caller again. Any
other subscriber (a ``uri``, another kind, a Service not found): ``None``. Called by the
Trigger and Subscription reconcilers; the dispatcher reads what they write
(:mod:`kawa.apis.limits`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from kawa.apis import core, serving
from kawa.apis.duck import Destination
from kawa.apis.registry import SCHEME
from kawa.apis.serving import autoscaling
from kawa.errors import NotFoundError, ValidationError
from kawa.reconciler.tracker import Track
from kawa.store.base import ResourceKey, ResourceStore

AUTOSCALER_KEY: Final = ResourceKey(
    core.CONFIG_MAP.resource, "knative-serving", "config-autoscaler"
)


async def service_max_in_flight(
    store: ResourceStore, destination: Destination | None, track: Track
) -> int | None:
    """See the module docstring."""
    ref = destination.ref if destination is not None else None
    if ref is None:
        return None
    try:
        kind = SCHEME.for_api_version_kind(ref.api_version, ref.kind)
    except ValidationError:
        return None
    if kind.resource != serving.SERVICE.resource:
        return None
    key = ResourceKey(kind.resource, ref.namespace, ref.name)
    track(key)
    try:
        service = await store.get(key)
    except NotFoundError:
        return None
    template = (service.get("spec") or {}).get("template")
    if not isinstance(template, Mapping):
        return None
    settings, _ = autoscaling.revision_settings(template, await _autoscaler_config(store, track))
    return autoscaling.capacity(settings)


async def _autoscaler_config(store: ResourceStore, track: Track) -> autoscaling.AutoscalerConfig:
    track(AUTOSCALER_KEY)
    try:
        found = await store.get(AUTOSCALER_KEY)
    except NotFoundError:
        return autoscaling.AutoscalerConfig()
    data = found.get("data")
    config, _ = autoscaling.config_from_configmap(data if isinstance(data, Mapping) else None)
    return config
