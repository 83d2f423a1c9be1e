"""The trust bundles in effect, followed live for the senders (:class:`LiveTrustBundles`).

A trust bundle is a ConfigMap of ``knative-eventing`` labelled
``networking.knative.dev/trust-bundle: "true"`` (Knative's, :mod:`kawa.apis.cacerts`); every
value of its ``data`` (and of its ``binaryData``, base64 of PEM text) is PEM certificates that
kawa's senders trust besides the system's CAs and kawa's own. :meth:`LiveTrustBundles.run`
follows the ConfigMaps of that namespace (an informer, as :class:`~.features.LiveFeatures`)
and hands the bundles to a :class:`~kawa.delivery.trust.Trust` after every change: a bundle
created, changed, unlabelled or deleted applies to the next new connection, without a
restart. A value that is not PEM certificates is logged (ConfigMap and key) and skipped; the
rest of the bundles still apply. Started by :mod:`kawa.runtime`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any

from kawa.apis import cacerts, core
from kawa.delivery.trust import Trust
from kawa.reconciler.informer import inform
from kawa.store.base import Obj, ResourceStore, WatchEvent

log = logging.getLogger(__name__)


def is_trust_bundle(obj: Mapping[str, Any]) -> bool:
    """Whether the ConfigMap ``obj`` is labelled a trust bundle."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return isinstance(labels, Mapping) and labels.get(cacerts.TRUST_BUNDLE_LABEL) == "true"


def bundle_values(obj: Mapping[str, Any]) -> dict[str, str]:
    """The usable PEM values of the trust-bundle ConfigMap ``obj``, by ``<name>/<key>``; a
    value that is not PEM certificates is logged and left out."""
    name = str((obj.get("metadata") or {}).get("name", ""))
    found: dict[str, str] = {}
    values: list[tuple[str, object]] = []
    data = obj.get("data")
    if isinstance(data, Mapping):
        values += [(str(k), v) for k, v in data.items()]
    binary = obj.get("binaryData")
    if isinstance(binary, Mapping):
        values += [(str(k), _decoded(v)) for k, v in binary.items()]
    for key, value in values:
        if isinstance(value, str):
            wrong = cacerts.problem(value)
            if wrong is None:
                found[f"{name}/{key}"] = value
                continue
        else:
            wrong = f"{cacerts.NOT_PEM}: {value}"
        log.warning(
            "trust bundle ConfigMap %s/%s: key %r skipped: %s",
            cacerts.TRUST_BUNDLE_NAMESPACE,
            name,
            key,
            wrong,
        )
    return found


def _decoded(value: object) -> object:
    """A ``binaryData`` value as text, or why it is none (a :class:`ValueError`)."""
    try:
        return base64.b64decode(str(value), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as err:
        return ValueError(f"binaryData is not base64 of PEM text ({err})")


class LiveTrustBundles:
    """Hands the trust bundles to ``trust`` after every change (see the module docstring)."""

    def __init__(self, store: ResourceStore, trust: Trust) -> None:
        self._store = store
        self._trust = trust
        self._bundles: dict[str, dict[str, str]] = {}
        """By ConfigMap name: its usable values (``<name>/<key>`` -> PEM)."""
        self.listed = asyncio.Event()
        """Set once the ConfigMaps were listed (the bundles stored then are in effect)."""
        self.changed = asyncio.Event()
        """Set (and cleared again) after every change handed on: for tests and watchers."""

    async def run(self) -> None:
        await inform(
            self._store,
            core.CONFIG_MAP.resource,
            self._seen,
            namespace=cacerts.TRUST_BUNDLE_NAMESPACE,
            on_listed=self._listed,
        )

    async def _listed(self, items: list[Obj]) -> None:
        """After every full list: a bundle deleted while the watch was away is gone."""
        names = {str(o.get("metadata", {}).get("name")) for o in items if is_trust_bundle(o)}
        for gone in set(self._bundles) - names:
            del self._bundles[gone]
        self._hand_on()
        self.listed.set()

    async def _seen(self, event: WatchEvent) -> None:
        obj = event.object
        name = str(obj.get("metadata", {}).get("name", ""))
        if event.type != "DELETED" and is_trust_bundle(obj):
            self._bundles[name] = bundle_values(obj)
        elif self._bundles.pop(name, None) is None:
            return  # not a bundle, and none before: nothing changes
        if self.listed.is_set():
            self._hand_on()

    def _hand_on(self) -> None:
        merged = {key: pem for values in self._bundles.values() for key, pem in values.items()}
        self._trust.set_bundles(merged)
        self.changed.set()
        self.changed.clear()
