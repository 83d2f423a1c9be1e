"""The trust bundles followed live (:class:`LiveTrustBundles`), on a real SQLite store: the
labelled ConfigMaps of ``knative-eventing`` reach the senders' trust as they are created,
changed, unlabelled and deleted; other ConfigMaps and other namespaces do not; a value that is
not PEM is logged with its ConfigMap and key and skipped, the rest still apply."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kawa.apis import core
from kawa.delivery.trust import Trust
from kawa.reconciler.trust_bundles import LiveTrustBundles, bundle_values
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..tls_support import Authority, certificate_authority
from ..waiting import eventually

SYSTEM = "knative-eventing"
LABEL = {"networking.knative.dev/trust-bundle": "true"}


@pytest.fixture(scope="module")
def ca() -> Authority:
    return certificate_authority("bundle-ca")


@pytest.fixture(scope="module")
def other_ca() -> Authority:
    return certificate_authority("other-bundle-ca")


def key(name: str, namespace: str = SYSTEM) -> ResourceKey:
    return ResourceKey(core.CONFIG_MAP.resource, namespace, name)


def config_map(
    name: str,
    data: dict[str, str],
    *,
    labels: dict[str, str] | None = None,
    namespace: str = SYSTEM,
    **more: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "data": data,
        **more,
    }


@pytest.fixture
async def store() -> AsyncIterator[SqliteResourceStore]:
    store = SqliteResourceStore(":memory:")
    try:
        yield store
    finally:
        await store.close()


async def until(trust: Trust, expected: dict[str, str]) -> None:
    async def reached() -> bool:
        return dict(trust.bundles) == expected

    await eventually(reached, 5.0, f"the bundles never became {sorted(expected)}")


async def test_bundles_follow_their_config_maps(
    store: SqliteResourceStore, ca: Authority, other_ca: Authority
) -> None:
    await store.create(key("ca-bundle"), config_map("ca-bundle", {"ca.crt": ca.pem}, labels=LABEL))
    await store.create(key("config-features"), config_map("config-features", {"x": ca.pem}))
    await store.create(
        key("elsewhere", "default"),
        config_map("elsewhere", {"ca.crt": ca.pem}, labels=LABEL, namespace="default"),
    )
    trust = Trust(system=False)
    live = LiveTrustBundles(store, trust)
    task = asyncio.create_task(live.run())
    try:
        await asyncio.wait_for(live.listed.wait(), 5.0)
        assert trust.bundles == {"ca-bundle/ca.crt": ca.pem}  # in effect once listed

        current = await store.get(key("ca-bundle"))
        changed = config_map("ca-bundle", {"ca.crt": ca.pem, "more.crt": other_ca.pem})
        changed["metadata"] = current["metadata"]
        await store.update(key("ca-bundle"), changed)
        await until(trust, {"ca-bundle/ca.crt": ca.pem, "ca-bundle/more.crt": other_ca.pem})

        binary = base64.b64encode(other_ca.pem.encode()).decode()
        await store.create(
            key("binary"), config_map("binary", {}, labels=LABEL, binaryData={"b.pem": binary})
        )
        await until(
            trust,
            {
                "ca-bundle/ca.crt": ca.pem,
                "ca-bundle/more.crt": other_ca.pem,
                "binary/b.pem": other_ca.pem,
            },
        )

        unlabelled = await store.get(key("binary"))
        unlabelled["metadata"]["labels"] = {}
        await store.update(key("binary"), unlabelled)
        await until(trust, {"ca-bundle/ca.crt": ca.pem, "ca-bundle/more.crt": other_ca.pem})

        await store.delete(key("ca-bundle"))
        await until(trust, {})
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_a_value_that_is_not_pem_is_logged_and_skipped(
    ca: Authority, caplog: pytest.LogCaptureFixture
) -> None:
    obj = config_map(
        "mixed",
        {"good.crt": ca.pem, "bad.crt": "hello", "broken.crt": ca.pem.replace("M", "!", 3)},
        labels=LABEL,
        binaryData={"junk": "%%%"},
    )
    with caplog.at_level(logging.WARNING, "kawa.reconciler.trust_bundles"):
        assert bundle_values(obj) == {"mixed/good.crt": ca.pem}
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert (
        "trust bundle ConfigMap knative-eventing/mixed: key 'bad.crt' skipped: not a PEM "
        "certificate: expected one or more '-----BEGIN CERTIFICATE-----' blocks"
    ) in messages
    assert any("key 'broken.crt' skipped: not a PEM certificate" in m for m in messages)
    assert any("key 'junk' skipped: not a PEM certificate: binaryData" in m for m in messages)
