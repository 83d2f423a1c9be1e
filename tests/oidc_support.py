"""authentication-oidc in tests that run reconcilers or adapters on a store of their own:
:func:`set_oidc` writes ``knative-eventing/config-features`` (made when missing)."""

from __future__ import annotations

from kawa.errors import NotFoundError
from kawa.reconciler.features import FEATURES_KEY
from kawa.store.base import ResourceStore


async def set_oidc(store: ResourceStore, value: str = "enabled") -> None:
    """``authentication-oidc: <value>`` in the store's ``config-features``."""
    try:
        current = await store.get(FEATURES_KEY)
    except NotFoundError:
        await store.create(
            FEATURES_KEY,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": FEATURES_KEY.name, "namespace": FEATURES_KEY.namespace},
                "data": {"authentication-oidc": value},
            },
        )
        return
    data = dict(current.get("data") or {}, **{"authentication-oidc": value})
    await store.update(FEATURES_KEY, dict(current, data=data))
