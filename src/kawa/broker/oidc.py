"""authentication-oidc for the data plane: who may post to kawa's brokers and channels, and the
tokens kawa's own senders present.

- :meth:`DataPlaneIdentity.sender_check` gives a broker's or channel's ingress its
  :class:`~kawa.dispatch.senders.SenderCheck`: with the flag on, a request needs a token kawa
  issued (``kubectl create token``, or one of kawa's own senders) for the receiver's audience,
  and the receiver's EventPolicies (its ``status.policies``, kept in memory by
  :class:`~kawa.reconciler.eventpolicies.LiveEventPolicies`) or the default authorization
  mode must allow its subject (:func:`kawa.dispatch.eventpolicies.decide`; else 403).
  Tokens are verified against the store's signing keys (:mod:`kawa.identity.keyring`; a
  token signed by a key not seen yet reads the keys again, at most once per
  :data:`KEY_REFRESH` seconds) and any issuer: every node of a store signs with the same
  private keys and names its own API URL as the issuer.
- :meth:`DataPlaneIdentity.reply_check` and :meth:`DataPlaneIdentity.subject_check` decide
  the same for what kawa puts straight into a broker or channel on a sender's behalf (a
  Trigger's reply, a RequestReply's request): no ingress on the way, the same policies.
- :meth:`DataPlaneIdentity.token` is the :class:`~kawa.delivery.sender.Dispatcher`'s token
  source: a token of a Trigger's or Subscription's ServiceAccount for its receiver's
  audience, minted here and kept until :data:`RENEW_BEFORE` seconds before it expires.

The flags are the live ones (:class:`~kawa.reconciler.features.LiveFeatures`, run by
:meth:`run`): turning the flag on or off applies to the next request.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from typing import Final

from kawa.apis import core
from kawa.apis import features as features_api
from kawa.cloudevents.event import CloudEvent
from kawa.dispatch import eventpolicies
from kawa.dispatch.senders import ReplyCheck, SenderCheck, SubjectCheck
from kawa.errors import ForbiddenError, KawaError, NotFoundError, UnauthorizedError
from kawa.identity import tokens
from kawa.identity.keyring import SigningKeys
from kawa.reconciler.eventpolicies import LiveEventPolicies
from kawa.reconciler.features import LiveFeatures
from kawa.store.base import ResourceKey, ResourceStore

PoliciesOf = Callable[[str, str], Sequence[str]]

"""``(namespace, name) -> names`` of the EventPolicies that apply to a receiver."""
TOKEN_LIFETIME: Final = 3600
"""Seconds a token minted for kawa's own senders is valid."""
RENEW_BEFORE: Final = 600
"""Seconds before its expiry a kept token is replaced by a new one."""
KEY_REFRESH: Final = 5.0
"""Least seconds between two reads of the keys for tokens signed by an unknown key."""
MAX_KEPT: Final = 10_000
"""Most minted tokens kept (one per sender and audience)."""


class DataPlaneIdentity:
    """See the module docstring."""

    def __init__(
        self,
        store: ResourceStore,
        signing_keys: SigningKeys,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keys = signing_keys
        self._clock = clock
        self.features = LiveFeatures(store)
        self.policies = LiveEventPolicies(store)
        self.issuer = ""
        """The issuer of the tokens minted here (this node's API URL, set once it listens)."""
        self._minted: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._minting: dict[tuple[str, str, str], asyncio.Future[str]] = {}
        self._refreshed = 0.0

    async def run(self) -> None:
        """Follow the feature flags and the EventPolicies until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.features.run(), name="feature-flags")
            tg.create_task(self.policies.run(), name="event-policies")

    def sender_check(
        self, what: str, api_version: str, kind: str, policies_of: PoliciesOf
    ) -> SenderCheck:
        """The sender check of the ingress of receivers of ``kind`` (``broker``, ...), whose
        applying EventPolicies ``policies_of`` names (their ``status.policies``)."""

        def audience_of(namespace: str, name: str) -> str:
            return features_api.audience(api_version, kind, namespace, name)

        return SenderCheck(
            what,
            lambda: self.features.current,
            self.verify,
            audience_of,
            self._decider(policies_of),
            ready=self.ready,
        )

    def reply_check(self, what: str, policies_of: PoliciesOf) -> ReplyCheck:
        """What a reply kawa puts straight into one of its brokers or channels (no ingress
        on the way) must pass with authentication-oidc on: the receiver's EventPolicies or
        the default mode must allow the replying Trigger's or Subscription's identity, as
        Knative's ingress would (ForbiddenError saying why; the delivery then fails)."""
        check_subject = self.subject_check(what, policies_of)

        async def check(
            sender_namespace: str,
            service_account: str,
            namespace: str,
            name: str,
            event: CloudEvent,
        ) -> None:
            subject = tokens.subject(sender_namespace, service_account) if service_account else None
            check_subject(subject, namespace, name, event)

        return check

    def subject_check(self, what: str, policies_of: PoliciesOf) -> SubjectCheck:
        """What a sender kawa already verified (its token's subject) must pass to have its
        event put straight into one of kawa's brokers or channels, with authentication-oidc
        on: the receiver's EventPolicies or the default mode must allow the subject, as if it
        had posted there itself (ForbiddenError naming the receiver and why)."""
        decide = self._decider(policies_of)

        def check(subject: str | None, namespace: str, name: str, event: CloudEvent) -> None:
            if not self.features.current.oidc:
                return
            try:
                decide(namespace, name, subject, event)
            except ForbiddenError as err:
                raise ForbiddenError(f"{what} {namespace}/{name}: {err}") from None

        return check

    def ready(self) -> bool:
        """Whether the flags and the EventPolicies were read once (until then the ingress
        answers 503: it must not take events as if the flags were Knative's defaults)."""
        return self.features.listed and self.policies.listed

    def _decider(
        self, policies_of: PoliciesOf
    ) -> Callable[[str, str, str | None, CloudEvent], None]:
        def decide(namespace: str, name: str, subject: str | None, event: CloudEvent) -> None:
            applied = self.policies.applied(namespace, policies_of(namespace, name))
            mode = self.features.current.authorization_mode
            decision = eventpolicies.decide(applied, mode, subject, namespace, event)
            if not decision.allowed:
                raise ForbiddenError(decision.reason)

        return decide

    async def verify(self, token: str, audience: str) -> str | None:
        """The subject of ``token`` if it is valid for ``audience``; else
        :class:`~kawa.errors.UnauthorizedError` saying why."""
        try:
            public = await self._keys.public_keys()
        except KawaError as err:
            raise UnauthorizedError(f"tokens cannot be verified now: {err}") from None
        now = self._clock()
        try:
            claims = tokens.verify(token, audience=audience, keys=public, issuer=None, now=now)
        except tokens.BadSignature:
            if now - self._refreshed < KEY_REFRESH:
                raise
            self._refreshed = now  # maybe a key another node made since the last read
            try:
                public = await self._keys.public_keys(refresh=True)
            except KawaError as err:
                raise UnauthorizedError(f"tokens cannot be verified now: {err}") from None
            claims = tokens.verify(token, audience=audience, keys=public, issuer=None, now=now)
        return claims.subject

    async def token(self, namespace: str, service_account: str, audience: str) -> str:
        """A token of ``namespace/service_account`` for ``audience`` (see the module
        docstring); :class:`~kawa.errors.KawaError` when it cannot be had."""
        key = (namespace, service_account, audience)
        kept = self._minted.get(key)
        if kept is not None and self._clock() < kept[1] - RENEW_BEFORE:
            return kept[0]
        minting = self._minting.get(key)  # one mint per sender and audience at a time
        if minting is None:
            minting = self._minting[key] = asyncio.ensure_future(self._mint(*key))
            minting.add_done_callback(functools.partial(self._minted_one, key))
        return await asyncio.shield(minting)

    def _minted_one(self, key: tuple[str, str, str], minting: asyncio.Future[str]) -> None:
        self._minting.pop(key, None)
        if not minting.cancelled():
            minting.exception()  # retrieved here too: every waiter may have gone

    async def _mint(self, namespace: str, service_account: str, audience: str) -> str:
        key = (namespace, service_account, audience)
        now = self._clock()
        try:
            account = await self._store.get(
                ResourceKey(core.SERVICE_ACCOUNT.resource, namespace, service_account)
            )
        except NotFoundError:
            raise KawaError(
                f"the ServiceAccount {namespace}/{service_account} does not exist (yet)"
            ) from None
        uid = str((account.get("metadata") or {}).get("uid", ""))
        signer = await self._keys.signer()
        token, claims = tokens.mint(
            signer,
            issuer=self.issuer,
            service_account=tokens.ServiceAccountRef(namespace, service_account, uid),
            audiences=(audience,),
            lifetime=TOKEN_LIFETIME,
            now=now,
        )
        if len(self._minted) >= MAX_KEPT:
            self._minted.clear()
        self._minted[key] = (token, float(claims.expires))
        return token
