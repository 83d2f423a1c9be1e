"""The feature flags in effect (:mod:`kawa.apis.features`), read from the store.

A reconciler that depends on a flag tracks :data:`FEATURES_KEY` (``current.track``) so that a
change of the ConfigMap reconciles its objects again, and reads the flags through one
:class:`FeatureFlags` (parsed once per ``resourceVersion``). The data plane keeps them in
memory with :class:`LiveFeatures` (an informer), so that no request reads the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final

from kawa.apis import core, features
from kawa.errors import NotFoundError
from kawa.reconciler.informer import inform
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent

FEATURES_KEY: Final = ResourceKey(core.CONFIG_MAP.resource, features.NAMESPACE, features.CONFIG_MAP)


class FeatureFlags:
    """The flags of ``knative-eventing/config-features`` (Knative's defaults while it is
    missing)."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self._cached: tuple[str, features.Features] | None = None

    async def current(self) -> features.Features:
        try:
            obj = await self._store.get(FEATURES_KEY)
        except NotFoundError:
            return features.DEFAULTS
        version = str(obj.get("metadata", {}).get("resourceVersion", ""))
        if self._cached is not None and self._cached[0] == version:
            return self._cached[1]
        data = obj.get("data")
        parsed = features.from_data(data if isinstance(data, Mapping) else None)
        self._cached = (version, parsed)
        return parsed


class LiveFeatures:
    """The flags in effect for the data plane, kept in memory: :meth:`run` follows the
    ConfigMap (an informer on ConfigMaps of ``knative-eventing``) until cancelled, so a
    request reads :attr:`current` without touching the store."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self.current: features.Features = features.DEFAULTS
        self.listed = False
        """Whether the ConfigMaps were listed once (``current`` is the stored flags)."""
        self.changed = asyncio.Event()
        """Set (and cleared again) after every change: for tests and watchers."""

    async def run(self) -> None:
        await inform(
            self._store,
            FEATURES_KEY.resource,
            self._seen,
            namespace=FEATURES_KEY.namespace,
            on_listed=self._listed,
        )

    async def _listed(self, items: list[Obj]) -> None:
        """After every full list: a ConfigMap deleted while the watch was away is gone."""
        if not any(o.get("metadata", {}).get("name") == FEATURES_KEY.name for o in items):
            self.current = features.DEFAULTS
        self.listed = True

    async def _seen(self, event: WatchEvent) -> None:
        obj = event.object
        if obj.get("metadata", {}).get("name") != FEATURES_KEY.name:
            return
        if event.type == "DELETED":
            self.current = features.DEFAULTS
        else:
            data = obj.get("data")
            self.current = features.from_data(data if isinstance(data, Mapping) else None)
        self.changed.set()
        self.changed.clear()
