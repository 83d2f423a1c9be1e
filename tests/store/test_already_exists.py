"""A create of an existing object raises AlreadyExistsError (the API server's 409
``AlreadyExists`` comes from the type, not from the message)."""

from __future__ import annotations

import pytest

from kawa.errors import AlreadyExistsError, ConflictError
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore


async def test_creating_an_existing_object_is_already_exists() -> None:
    store = SqliteResourceStore(":memory:")
    try:
        key = ResourceKey("configmaps", "default", "twice")
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "twice"}}
        await store.create(key, obj)
        with pytest.raises(AlreadyExistsError) as raised:
            await store.create(key, obj)
        assert isinstance(raised.value, ConflictError)  # callers catching conflicts still do
        # a stale update is a conflict, not AlreadyExists
        stale = dict(obj, metadata={"name": "twice", "resourceVersion": "0"})
        with pytest.raises(ConflictError) as conflict:
            await store.update(key, stale)
        assert not isinstance(conflict.value, AlreadyExistsError)
    finally:
        await store.close()
