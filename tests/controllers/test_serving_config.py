"""The knative-serving ConfigMaps exist after startup and a user's edits survive a restart."""

from __future__ import annotations

import yaml

from kawa.controllers.serving_config import DEFAULTS, ensure_serving_config
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore


async def test_creates_the_configmaps_once_and_keeps_user_edits() -> None:
    store = SqliteResourceStore(":memory:")
    try:
        await ensure_serving_config(store)
        key = ResourceKey("configmaps", "knative-serving", "config-autoscaler")
        created = await store.get(key)
        example = yaml.safe_load(created["data"]["_example"])
        assert example["stable-window"] == "60s"
        assert example["tick-interval"] == "2s"
        created["data"]["stable-window"] = "6s"
        await store.update(key, created)
        await ensure_serving_config(store)
        assert (await store.get(key))["data"]["stable-window"] == "6s"
        listed = await store.list("configmaps", "knative-serving")
        assert sorted(i["metadata"]["name"] for i in listed.items) == sorted(DEFAULTS)
        for item in listed.items:
            assert isinstance(yaml.safe_load(item["data"]["_example"]), dict)
    finally:
        await store.close()
