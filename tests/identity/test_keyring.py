"""The issuer's keys in the resource store, as nodes sharing a store see them (two
:class:`SigningKeys` on one SQLite store, or on one JetStream bucket): made once, rotated
once, the same for all; a token one node minted verifies on the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kawa.errors import KawaError
from kawa.identity import keyring, keys, tokens
from kawa.jetstream import NatsOptions
from kawa.store.base import ResourceStore
from kawa.store.jetstream import JetStreamResourceStore
from kawa.store.sqlite import SqliteResourceStore

from ..nats_support import nats_url, unique

__all__ = ["nats_url"]

T0 = 1_800_000_000.0
ROTATION = 3600.0
LIFETIME = 1200
ISSUER = "https://127.0.0.1:7443"
SENDER = tokens.ServiceAccountRef("default", "sender", "uid-1")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "jetstream"])
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[ResourceStore, ResourceStore]]:
    """Two nodes' views of one store."""
    if request.param == "sqlite":
        store = SqliteResourceStore(str(tmp_path / "resources.db"))
        try:
            yield store, store
        finally:
            await store.close()
        return
    url = request.getfixturevalue("nats_url")
    bucket = unique("identity")
    one = await JetStreamResourceStore.open(NatsOptions((url,)), bucket)
    two = await JetStreamResourceStore.open(NatsOptions((url,)), bucket)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


def _nodes(
    stores: tuple[ResourceStore, ResourceStore], clock: Clock
) -> tuple[keyring.SigningKeys, keyring.SigningKeys]:
    one, two = stores
    return (
        keyring.SigningKeys(one, rotation=ROTATION, max_lifetime=LIFETIME, clock=clock),
        keyring.SigningKeys(two, rotation=ROTATION, max_lifetime=LIFETIME, clock=clock),
    )


def _mint(signer: keys.Signer, now: float) -> str:
    token, _ = tokens.mint(
        signer,
        issuer=ISSUER,
        service_account=SENDER,
        audiences=["a"],
        lifetime=LIFETIME,
        now=now,
    )
    return token


async def _ring(store: ResourceStore) -> keys.KeyRing:
    return keys.ring_of(await store.get(keyring.KEY))


async def test_nodes_starting_together_make_one_key(
    stores: tuple[ResourceStore, ResourceStore],
) -> None:
    clock = Clock()
    a, b = _nodes(stores, clock)
    signer_a, signer_b = await asyncio.gather(a.signer(), b.signer())
    assert signer_a.kid == signer_b.kid  # the loser of the create race took the winner's
    assert [k.kid for k in (await _ring(stores[0])).keys] == [signer_a.kid]
    token = _mint(signer_a, T0)
    claims = tokens.verify(
        token, audience="a", keys=await b.public_keys(), issuer=ISSUER, now=T0 + 1
    )
    assert claims.subject == "system:serviceaccount:default:sender"


async def test_rotation_keeps_the_old_key_until_its_tokens_expire(
    stores: tuple[ResourceStore, ResourceStore],
) -> None:
    clock = Clock()
    a, b = _nodes(stores, clock)
    first = await a.signer()
    old_token = _mint(first, clock.now + ROTATION - 1)  # signed just before rotation

    clock.now = T0 + ROTATION
    second, also = await asyncio.gather(a.signer(), b.signer())  # both see rotation due
    assert second.kid != first.kid
    assert also.kid == second.kid  # one node rotated; the other read its ring
    ring = await _ring(stores[1])
    assert [k.kid for k in ring.keys] == [second.kid, first.kid]
    assert ring.keys[1].retired == clock.now

    # the old key's token still verifies on either node while it is valid
    for node in (a, b):
        public = await node.public_keys(refresh=True)
        assert set(public) == {first.kid, second.kid}
        tokens.verify(old_token, audience="a", keys=public, issuer=ISSUER, now=clock.now)

    # once every token the old key may have signed has expired, it leaves the JWKS
    clock.now = T0 + ROTATION + LIFETIME + keys.GRACE + 1
    public = await b.public_keys(refresh=True)
    assert list(public) == [second.kid]
    assert [k.kid for k in (await _ring(stores[0])).keys] == [second.kid]
    assert (await a.signer()).kid == second.kid


async def test_keys_are_read_again_after_the_refresh_period(
    stores: tuple[ResourceStore, ResourceStore],
) -> None:
    clock = Clock()
    a, b = _nodes(stores, clock)
    await a.signer()
    await b.signer()
    await stores[0].delete(keyring.KEY)  # an admin deletes the keys: new ones are made
    clock.now += 1
    old = await b.signer()
    made = list(await a.public_keys(refresh=True))  # as for a token under an unknown key id
    assert made != [old.kid]
    assert (await a.signer()).kid == made[0]
    assert (await b.signer()).kid == old.kid  # b's copy is still fresh
    clock.now += keyring.REFRESH
    assert (await b.signer()).kid == made[0]


async def test_an_unusable_secret_says_how_to_fix_it(
    stores: tuple[ResourceStore, ResourceStore],
) -> None:
    clock = Clock()
    a, _ = _nodes(stores, clock)
    await a.signer()
    secret = await stores[0].get(keyring.KEY)
    secret["data"] = {"keys.json": "bm90IGpzb24="}
    await stores[0].update(keyring.KEY, secret)
    broken = keyring.SigningKeys(stores[1], clock=clock)
    with pytest.raises(KawaError, match=r"not base64 of JSON \(delete the Secret"):
        await broken.signer()
    await broken.prepare()  # logged, not raised: kawa still starts
