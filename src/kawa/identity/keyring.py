"""The issuer's keys in the resource store, shared by every kawa node of a store.

:class:`SigningKeys` reads the Secret ``kube-system/kawa-service-account-keys``
(:mod:`.keys`), creates it when no node has yet (a create race between nodes: the loser
reads the winner's), and, when it finds the signing key due for rotation, writes the ring
with a new key in front and the expired ones left out (an update at the read
resourceVersion: of nodes rotating at once one wins, the others read its ring). It parses a
ring once, in a thread (:class:`~.keys.Signer`, :class:`~.keys.PublicKeys`), and reads the
Secret again at most every :data:`REFRESH` seconds, so a key another node made is used here
soon after.

Called by the API server (:mod:`kawa.apiserver.oidc`: minting, the JWKS); the ingress will
verify with :meth:`SigningKeys.public_keys`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from kawa.apis import core
from kawa.errors import AlreadyExistsError, ConflictError, KawaError, NotFoundError
from kawa.identity import keys
from kawa.store.base import ResourceKey, ResourceStore

log = logging.getLogger(__name__)

KEY: Final = ResourceKey(core.SECRET.resource, keys.SECRET_NAMESPACE, keys.SECRET_NAME)
REFRESH: Final = 60.0
"""Seconds a read ring is used before the Secret is read again."""
ATTEMPTS: Final = 5
"""Writes tried when other nodes keep winning the race (each loser reads the new ring)."""


@dataclass(frozen=True, slots=True)
class _Loaded:
    resource_version: str
    ring: keys.KeyRing
    signer: keys.Signer
    public: keys.PublicKeys
    read_at: float


class SigningKeys:
    """The cluster's signing keys, rotated every ``rotation`` seconds, kept until the tokens
    they signed (at most ``max_lifetime`` seconds long) have expired."""

    def __init__(
        self,
        store: ResourceStore,
        *,
        rotation: float = keys.ROTATION,
        max_lifetime: int = keys.MAX_TOKEN_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.rotation = rotation
        self.max_lifetime = max_lifetime
        self.clock = clock
        self._loaded: _Loaded | None = None
        self._lock = asyncio.Lock()

    async def signer(self) -> keys.Signer:
        """The key to sign with now (rotated first if due)."""
        return (await self._current()).signer

    async def public_keys(self, *, refresh: bool = False) -> keys.PublicKeys:
        """Every key whose tokens may still be valid (``refresh``: read the Secret now, as
        for a token signed by a key id not known yet)."""
        return (await self._current(refresh=refresh)).public

    async def prepare(self) -> None:
        """Make the keys at start-up if no node has yet; a Secret that holds no usable ring
        is logged (token requests fail with 503 naming the field, until it is deleted)."""
        try:
            await self._current()
        except KawaError as err:
            log.warning("ServiceAccount tokens cannot be issued: %s", err)

    async def _current(self, *, refresh: bool = False) -> _Loaded:
        now = self.clock()
        loaded = self._loaded
        if (
            loaded is not None
            and not refresh
            and now - loaded.read_at < REFRESH
            and not keys.rotation_due(loaded.ring, now, self.rotation)
        ):
            return loaded
        async with self._lock:
            if self._loaded is not loaded and self._loaded is not None and not refresh:
                return self._loaded  # another task read it while this one waited
            self._loaded = await self._load()
            return self._loaded

    async def _load(self) -> _Loaded:
        for _ in range(ATTEMPTS):
            try:
                secret = await self.store.get(KEY)
            except NotFoundError:
                ring = keys.KeyRing((await self._new_key(),))
                try:
                    secret = await self.store.create(KEY, keys.new_secret(ring))
                    log.info("made the ServiceAccount token signing key (Secret %s)", KEY)
                except AlreadyExistsError:  # another node made it first
                    continue
            ring = self._ring_of(secret)
            now = self.clock()
            wanted = ring
            if keys.rotation_due(ring, now, self.rotation):
                wanted = keys.rotated(ring, await self._new_key(), now)
            wanted = keys.pruned(wanted, now, self.max_lifetime)
            if wanted is not ring:
                secret["data"] = keys.secret_data(wanted)
                try:
                    secret = await self.store.update(KEY, secret)
                except (ConflictError, NotFoundError):  # another node rotated (or deleted) it
                    continue
                if wanted.current is not ring.current:
                    log.info(
                        "rotated the ServiceAccount token signing key to %s", wanted.current.kid
                    )
                ring = wanted
            return await self._parsed(secret, ring)
        raise ConflictError(f"Secret {KEY}: kept changing while this node read it; try again")

    async def _new_key(self) -> keys.SigningKey:
        return await asyncio.to_thread(keys.new_key, self.clock())

    def _ring_of(self, secret: dict[str, object]) -> keys.KeyRing:
        try:
            return keys.ring_of(secret)
        except ValueError as err:  # edited by hand; deleting it makes new keys
            raise KawaError(f"{err} (delete the Secret to make new keys)") from None

    async def _parsed(self, secret: dict[str, object], ring: keys.KeyRing) -> _Loaded:
        meta = secret.get("metadata")
        version = str(meta.get("resourceVersion", "")) if isinstance(meta, dict) else ""
        previous = self._loaded
        if previous is not None and previous.resource_version == version and version:
            return _Loaded(version, ring, previous.signer, previous.public, self.clock())
        try:
            signer, public = await asyncio.to_thread(keys.parsed, ring)
        except ValueError as err:
            raise KawaError(f"Secret {KEY}: {err} (delete the Secret to make new keys)") from None
        return _Loaded(version, ring, signer, public, self.clock())
