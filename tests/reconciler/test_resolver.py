"""Destination resolution: uri, ref, ref plus relative uri, and why it can fail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kawa.apis.duck import Destination, KReference
from kawa.reconciler.resolver import SERVICES_URL, Address, Unresolvable, resolve, resolve_address
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..tls_support import certificate_authority

BROKERS = "brokers.eventing.knative.dev"
REF = KReference(
    api_version="eventing.knative.dev/v1", kind="Broker", name="b", namespace="default"
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteResourceStore]:
    s = SqliteResourceStore(str(tmp_path / "s.db"))
    yield s
    await s.close()


async def add_broker(
    store: SqliteResourceStore, url: str | None, addresses: list[dict[str, str]] | None = None
) -> None:
    obj: dict[str, Any] = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "b", "namespace": "default"},
        "spec": {},
    }
    if url is not None:
        obj["status"] = {"address": {"url": url}}
        if addresses is not None:
            obj["status"]["addresses"] = addresses
    await store.create(ResourceKey(BROKERS, "default", "b"), obj)


async def test_uri_alone_is_used_as_is(store: SqliteResourceStore) -> None:
    assert await resolve(store, Destination(uri="http://x.example/a")) == "http://x.example/a"


async def test_ref_resolves_to_the_address(store: SqliteResourceStore) -> None:
    await add_broker(store, "http://127.0.0.1:1/brokers/default/b")
    assert await resolve(store, Destination(ref=REF)) == "http://127.0.0.1:1/brokers/default/b"


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("extra", "http://127.0.0.1:1/base/extra"),
        ("/extra?x=1", "http://127.0.0.1:1/base/extra?x=1"),
    ],
)
async def test_ref_plus_relative_uri(
    store: SqliteResourceStore, relative: str, expected: str
) -> None:
    await add_broker(store, "http://127.0.0.1:1/base")
    assert await resolve(store, Destination(ref=REF, uri=relative)) == expected


async def test_unresolvable_destinations_say_why(store: SqliteResourceStore) -> None:
    with pytest.raises(Unresolvable) as missing:
        await resolve(store, Destination(ref=REF))
    assert missing.value.reason == "NotFound"
    await add_broker(store, None)
    with pytest.raises(Unresolvable) as not_ready:
        await resolve(store, Destination(ref=REF))
    assert not_ready.value.reason == "NotAddressable"
    odd = KReference(api_version="example.dev/v1", kind="Thing", name="t", namespace="default")
    with pytest.raises(Unresolvable) as unknown:
        await resolve(store, Destination(ref=odd))
    assert unknown.value.reason == "UnsupportedKind"


async def test_ca_certs_come_from_the_destination_else_the_https_address(
    store: SqliteResourceStore,
) -> None:
    """transport-encryption: the https address publishes the CACerts it verifies against; a
    Destination's own CACerts win over them, and an address with CACerts that are not PEM is
    not resolved (the trigger's condition says why)."""
    kawa_ca, own_ca = certificate_authority("kawa").pem, certificate_authority("own").pem
    https = "https://127.0.0.1:2/brokers/default/b"
    await add_broker(
        store,
        "http://127.0.0.1:1/brokers/default/b",
        [{"name": "http", "url": "http://127.0.0.1:1/brokers/default/b"},
         {"name": "https", "url": https, "CACerts": kawa_ca}],
    )  # fmt: skip
    assert await resolve_address(store, Destination(ref=REF)) == Address(https, None, kawa_ca)
    assert await resolve_address(store, Destination(ref=REF, ca_certs=own_ca)) == Address(
        https, None, own_ca
    )
    assert await resolve_address(store, Destination(uri="http://x.example/")) == Address(
        "http://x.example/"
    )
    with pytest.raises(Unresolvable) as bad:
        await resolve_address(store, Destination(ref=REF, ca_certs="nope"))
    assert bad.value.reason == "InvalidCACerts"
    assert bad.value.message == (
        f"the CACerts of {https}: not a PEM certificate: expected one or more "
        "'-----BEGIN CERTIFICATE-----' blocks"
    )


async def test_the_target_is_tracked_whether_it_exists_or_not(
    store: SqliteResourceStore,
) -> None:
    tracked: list[ResourceKey] = []
    with pytest.raises(Unresolvable):
        await resolve(store, Destination(ref=REF), track=tracked.append)
    await add_broker(store, "http://127.0.0.1:1/brokers/default/b")
    await resolve(store, Destination(ref=REF), track=tracked.append)
    await resolve(store, Destination(uri="http://x.example/a"), track=tracked.append)
    assert tracked == [ResourceKey(BROKERS, "default", "b")] * 2


SERVICE_REF = KReference(api_version="v1", kind="Service", name="web", namespace="default")


async def add_service(store: SqliteResourceStore) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"ports": [{"port": 80}]},
    }
    await store.create(ResourceKey("services", "default", "web"), obj)


async def test_a_v1_service_resolves_to_kawas_path_form(store: SqliteResourceStore) -> None:
    tracked: list[ResourceKey] = []
    with pytest.raises(Unresolvable) as missing:
        await resolve(store, Destination(ref=SERVICE_REF), track=tracked.append)
    assert missing.value.reason == "NotFound"
    await add_service(store)
    # without kawa's URL (no running kawa): Knative's cluster-local URL
    knative = await resolve(store, Destination(ref=SERVICE_REF))
    assert knative == "http://web.default.svc.cluster.local"
    token = SERVICES_URL.set("http://127.0.0.1:7080/services")
    try:
        url = await resolve(store, Destination(ref=SERVICE_REF), track=tracked.append)
        assert url == "http://127.0.0.1:7080/services/default/web"
        joined = await resolve(store, Destination(ref=SERVICE_REF, uri="/events?x=1"))
        assert joined == "http://127.0.0.1:7080/services/default/web/events?x=1"
    finally:
        SERVICES_URL.reset(token)
    assert tracked == [ResourceKey("services", "default", "web")] * 2
