"""A subject is bound as it is created (Knative's SinkBinding webhook): a Job made by anyone,
a CronJob's included, is stored with ``K_SINK`` already in its pod template."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kawa.sources.sinkbinding import bind_on_create, subjects
from kawa.store.base import ResourceKey
from kawa.store.mutating import MutatingStore
from kawa.store.sqlite import SqliteResourceStore

JOBS = "jobs.batch"
BINDINGS = "sinkbindings.sources.knative.dev"


@pytest.fixture
async def store() -> AsyncIterator[MutatingStore]:
    inner = SqliteResourceStore(":memory:")
    mutating = MutatingStore(inner, [bind_on_create(inner)])
    yield mutating
    await mutating.close()


def job(name: str, **labels: str) -> dict[str, Any]:
    container = {"name": "beat", "image": "heartbeats", "env": [{"name": "ONE_SHOT", "value": "1"}]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {"template": {"spec": {"containers": [container], "restartPolicy": "Never"}}},
    }


async def make_binding(store: MutatingStore, *, sink_uri: str | None) -> None:
    obj: dict[str, Any] = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "SinkBinding",
        "metadata": {"name": "bind-heartbeat", "namespace": "default"},
        "spec": {
            "subject": {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "selector": {"matchLabels": {"app": "heartbeat-cron"}},
            },
            "sink": {"uri": "http://sink.example/"},
            "ceOverrides": {"extensions": {"sink": "bound"}},
        },
    }
    key = ResourceKey(BINDINGS, "default", "bind-heartbeat")
    await store.create(key, obj)
    if sink_uri is not None:
        stored = await store.get(key)
        stored["status"] = {"sinkUri": sink_uri}
        await store.update(key, stored, status_only=True)


def env_of(obj: dict[str, Any]) -> dict[str, str]:
    container = obj["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


async def test_a_selected_job_is_stored_bound(store: MutatingStore) -> None:
    await make_binding(store, sink_uri="http://sink.example/")
    created = await store.create(
        ResourceKey(JOBS, "default", "heartbeat-cron-1"), job("x", app="heartbeat-cron")
    )
    assert env_of(created) == {
        "ONE_SHOT": "1",
        "K_SINK": "http://sink.example/",
        "K_CE_OVERRIDES": '{"extensions":{"sink":"bound"}}',
    }
    assert subjects.bound_by(created) == "bind-heartbeat"
    other = await store.create(ResourceKey(JOBS, "default", "other"), job("y", app="else"))
    assert env_of(other) == {"ONE_SHOT": "1"}
    assert subjects.bound_by(other) is None


async def test_nothing_is_bound_before_the_sink_resolves(store: MutatingStore) -> None:
    await make_binding(store, sink_uri=None)
    created = await store.create(
        ResourceKey(JOBS, "default", "early"), job("x", app="heartbeat-cron")
    )
    assert "K_SINK" not in env_of(created)


async def test_other_namespaces_and_kinds_are_left_alone(store: MutatingStore) -> None:
    await make_binding(store, sink_uri="http://sink.example/")
    elsewhere = await store.create(ResourceKey(JOBS, "other", "j"), job("x", app="heartbeat-cron"))
    assert "K_SINK" not in env_of(elsewhere)
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"labels": {"app": "heartbeat-cron"}},
    }
    stored = await store.create(ResourceKey("configmaps", "default", "c"), config)
    assert "annotations" not in stored["metadata"]
