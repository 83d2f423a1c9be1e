"""A PingSource with authentication-oidc on: its own ServiceAccount (``status.auth``,
``OIDCIdentityCreated``), its sink's audience in ``status.sinkAudience``, and every tick sent
with a token of that ServiceAccount for that audience. Real store, real Dispatcher (its token
source records what it was asked for), real HTTP sink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kawa.delivery.sender import Dispatcher
from kawa.sources.ping import ping_sources
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...oidc_support import set_oidc
from ...waiting import eventually
from .support import Sink, condition, create, key_of, ping_source, running, wait_until

ACCOUNT = "p-oidc-sources.knative.dev-pingsource"


async def test_a_pingsource_sends_as_its_own_service_account(
    store: SqliteResourceStore, sink: Sink, tmp_path: Path
) -> None:
    asked: list[tuple[str, str, str]] = []

    async def tokens(namespace: str, service_account: str, audience: str) -> str:
        asked.append((namespace, service_account, audience))
        return f"token-of-{service_account}"

    await set_oidc(store)
    await create(store, ping_source("p", {"uri": sink.url, "audience": "sink-aud"}))
    async with (
        Dispatcher(default_timeout=5.0, tokens=tokens) as dispatcher,
        running(*ping_sources(store, dispatcher, data_dir=tmp_path)),
    ):

        def identified(obj: dict[str, Any]) -> bool:
            return bool(obj.get("status", {}).get("auth"))

        obj = await wait_until(store, key_of("p"), identified)

        async def sent_with_token() -> bool:
            return f"Bearer token-of-{ACCOUNT}" in sink.authorizations

        # once the source had its identity, its ticks carry the token for the sink's audience
        await eventually(sent_with_token, 15, "no tick carried the source's token")
    assert obj["status"]["auth"] == {"serviceAccountName": ACCOUNT}
    assert obj["status"]["sinkAudience"] == "sink-aud"
    assert condition(obj, "OIDCIdentityCreated")["status"] == "True"
    assert await store.get(ResourceKey("serviceaccounts", "default", ACCOUNT))
    assert ("default", ACCOUNT, "sink-aud") in asked
