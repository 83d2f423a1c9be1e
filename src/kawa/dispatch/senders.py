"""Who may send to a broker or a channel (authentication-oidc): the ingress's sender check.

With ``authentication-oidc`` enabled in ``knative-eventing/config-features`` every request to
a broker's or channel's ingress must carry ``Authorization: Bearer <token>``: a token kawa
issued (a ServiceAccount's, ``kubectl create token``) for the receiver's audience
(``status.address.audience``). A missing, malformed, expired, wrongly signed or
wrong-audience token gets 401 saying which; then the receiver's EventPolicies (or the default
authorization mode) decide, and a sender they do not allow gets 403. Both answers come before
the event is stored: nothing of a refused request is kept. With the flag off nothing is
checked, as in Knative.

:class:`SenderCheck` is the ingress's :data:`~kawa.dispatch.ingress.Authorize`; what it
needs comes in as callables (the flags in effect, token verification, the policy decision),
so that this module does no I/O of its own. :meth:`SenderCheck.admit` also says whom it let
through (:class:`Admitted`), for a receiver that passes the event on in process and must
check the same sender there (a RequestReply into its Broker: :data:`SubjectCheck`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

from kawa.apis import features as features_api
from kawa.cloudevents.event import CloudEvent
from kawa.dispatch.ingress import OVER_TLS, refusal
from kawa.errors import ForbiddenError, UnauthorizedError
from kawa.transport import lean

Verify = Callable[[str, str], Awaitable[str | None]]
"""``(token, audience) -> subject``: the verified token's ``sub`` (``None`` if it names none);
raises :class:`~kawa.errors.UnauthorizedError` saying what is wrong with it."""
Decide = Callable[[str, str, str | None, CloudEvent], None]
"""``(namespace, name, subject, event)``: returns when the receiver's EventPolicies (or the
default authorization mode) allow the sender, raises :class:`~kawa.errors.ForbiddenError`
saying why not."""
ReplyCheck = Callable[[str, str, str, str, CloudEvent], Awaitable[None]]
"""``(sender namespace, sender service account, receiver namespace, receiver name, event)``:
returns when a reply kawa puts straight into one of its brokers or channels may go in,
raises :class:`~kawa.errors.ForbiddenError` otherwise (authentication-oidc)."""
SubjectCheck = Callable[[str | None, str, str, CloudEvent], None]
"""``(subject, receiver namespace, receiver name, event)``: returns when a sender already
verified (its token's ``subject``) may have ``event`` put straight into one of kawa's brokers
or channels on its behalf, raises :class:`~kawa.errors.ForbiddenError` saying why not
(authentication-oidc)."""
AudienceOf = Callable[[str, str], str]
"""``(namespace, name) -> audience`` of a receiver of the ingress's kind."""

BEARER: Final = "bearer"


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (the scheme in any case)."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != BEARER or not token or " " in token:
        return None
    return token


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request a sender check let through: ``subject`` is its verified token's (``None``
    with authentication-oidc off, or for a token that names none)."""

    subject: str | None = None


ANONYMOUS: Final = Admitted()
"""Every request's admission with authentication-oidc off."""


class SenderCheck:
    """The sender check of one kind's ingress (see the module docstring)."""

    def __init__(
        self,
        what: str,
        features: Callable[[], features_api.Features],
        verify: Verify,
        audience_of: AudienceOf,
        decide: Decide | None = None,
        *,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self._ready = ready
        self._what = what
        self._features = features
        self._verify = verify
        self._audience_of = audience_of
        self._decide = decide

    async def __call__(
        self, namespace: str, name: str, headers: Mapping[str, str], event: CloudEvent
    ) -> lean.Answer | None:
        admitted = self._without_token(namespace, name)
        if admitted is None:  # the token decides
            admitted = await self._by_token(namespace, name, headers, event)
        return admitted if isinstance(admitted, lean.Answer) else None

    async def admit(
        self, namespace: str, name: str, headers: Mapping[str, str], event: CloudEvent
    ) -> lean.Answer | Admitted:
        """The refusal of the request to post ``event`` to ``namespace/name``, or whom it
        lets through."""
        admitted = self._without_token(namespace, name)
        if admitted is None:
            return await self._by_token(namespace, name, headers, event)
        return admitted

    def _without_token(self, namespace: str, name: str) -> lean.Answer | Admitted | None:
        """What is decided before any token is read (every request with authentication-oidc
        off: no coroutine of its own on the ingress path); ``None``: the token decides."""
        if not self._ready():
            starting = "kawa is starting (its flags are not read yet)"
            return refusal(503, f"{self._what} {namespace}/{name}: {starting}")
        flags = self._features()
        if flags.transport_encryption == features_api.STRICT and not OVER_TLS.get():
            return refusal(
                403,
                f"{self._what} {namespace}/{name} takes events only over HTTPS "
                "(transport-encryption is strict): send them to its https address",
            )
        return None if flags.oidc else ANONYMOUS

    async def _by_token(
        self, namespace: str, name: str, headers: Mapping[str, str], event: CloudEvent
    ) -> lean.Answer | Admitted:
        audience = self._audience_of(namespace, name)
        token = bearer_token(headers.get("Authorization", ""))
        if token is None:
            return refusal(
                401,
                f"{self._what} {namespace}/{name} takes events only with an OIDC token "
                f"(authentication-oidc is enabled): send 'Authorization: Bearer <token>' with "
                f"a token for the audience {audience} (kubectl create token <serviceaccount> "
                f"--audience {audience})",
            )
        try:
            subject = await self._verify(token, audience)
        except UnauthorizedError as err:
            return refusal(401, f"{self._what} {namespace}/{name}: {err}")
        if self._decide is not None:
            try:
                self._decide(namespace, name, subject, event)
            except ForbiddenError as err:
                return refusal(403, f"{self._what} {namespace}/{name}: {err}")
        return Admitted(subject)
