"""ServiceAccount tokens: minting one with Kubernetes' claims, and verifying one.

A token is a JWS (compact form, RS256, the header's ``kid`` naming the key) whose claims
are Kubernetes' (``pkg/serviceaccount/claims.go``)::

    iss  the issuer URL            sub  system:serviceaccount:<namespace>:<name>
    aud  the audiences (a list)    exp, iat, nbf  unix seconds      jti  a random id
    kubernetes.io  {namespace, serviceaccount: {name, uid}}

:func:`verify` returns the claims of a token presented for ``audience``, or raises one
:class:`TokenRejected` subclass per reason (each an :class:`~kawa.errors.UnauthorizedError`,
so the API and the ingress answer 401 with its message): :class:`MalformedToken`,
:class:`TokenExpired` (also: not yet valid), :class:`BadSignature` (also: an unknown key
id), :class:`WrongAudience`, :class:`WrongIssuer`. The signature is checked before any
claim, and once per token and key set (:class:`~.keys.PublicKeys` remembers the claims).

Pure: the time is a parameter; PyJWT does the JWS part.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jwt
import orjson

from kawa.errors import UnauthorizedError
from kawa.identity import keys

LEEWAY: Final = 60.0
"""Seconds of clock skew allowed on ``exp`` and ``nbf`` (Kubernetes allows one minute)."""
SUBJECT_PREFIX: Final = "system:serviceaccount:"
KUBERNETES_CLAIM: Final = "kubernetes.io"


class TokenRejected(UnauthorizedError):
    """A token that does not prove its bearer's identity (the message says why)."""


class MalformedToken(TokenRejected):
    """Missing, not a JWS, or without the claims of a ServiceAccount token."""


class TokenExpired(TokenRejected):
    """Past its ``exp``, or before its ``nbf``."""


class BadSignature(TokenRejected):
    """Not signed by any key of the issuer (a bad signature, or an unknown key id)."""


class WrongAudience(TokenRejected):
    """Valid, but not issued for this receiver."""


class WrongIssuer(TokenRejected):
    """Signed by a known key, but naming another issuer."""


@dataclass(frozen=True, slots=True)
class ServiceAccountRef:
    """The ServiceAccount a token is issued for."""

    namespace: str
    name: str
    uid: str


@dataclass(frozen=True, slots=True)
class Claims:
    """The claims of a verified (or freshly minted) token."""

    issuer: str
    subject: str
    audiences: tuple[str, ...]
    expires: int
    issued_at: int
    not_before: int
    token_id: str
    service_account: ServiceAccountRef

    def as_dict(self) -> dict[str, Any]:
        """The JWT claims set."""
        sa = self.service_account
        return {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": list(self.audiences),
            "exp": self.expires,
            "iat": self.issued_at,
            "nbf": self.not_before,
            "jti": self.token_id,
            KUBERNETES_CLAIM: {
                "namespace": sa.namespace,
                "serviceaccount": {"name": sa.name, "uid": sa.uid},
            },
        }


def subject(namespace: str, name: str) -> str:
    """The ``sub`` of a ServiceAccount's tokens (Kubernetes' user name for it)."""
    return f"{SUBJECT_PREFIX}{namespace}:{name}"


def mint(
    signer: keys.Signer,
    *,
    issuer: str,
    service_account: ServiceAccountRef,
    audiences: Collection[str],
    lifetime: int,
    now: float,
) -> tuple[str, Claims]:
    """A token for ``service_account``, valid ``lifetime`` seconds from ``now``, and its claims."""
    issued = int(now)
    claims = Claims(
        issuer=issuer,
        subject=subject(service_account.namespace, service_account.name),
        audiences=tuple(audiences),
        expires=issued + lifetime,
        issued_at=issued,
        not_before=issued,
        token_id=str(uuid.uuid4()),
        service_account=service_account,
    )
    token = jwt.encode(
        claims.as_dict(),
        signer.private_key,
        algorithm=keys.ALGORITHM,
        headers={"kid": signer.kid},
    )
    return token, claims


def verify(
    token: str,
    *,
    audience: str,
    keys: keys.PublicKeys,
    issuer: str | Collection[str] | None,
    now: float,
    leeway: float = LEEWAY,
) -> Claims:
    """The claims of ``token`` if it is valid at ``now`` for ``audience``, signed by one of
    ``keys`` and issued by ``issuer`` (one URL, or any of several; ``None``: any, as for kawa's
    own ingress, where every node of a store signs with the same private keys but names its
    own API URL as the issuer); else a :class:`TokenRejected` saying why."""
    if not token:
        raise MalformedToken("no token: a ServiceAccount token (a JWT) is required")
    claims = keys.verified.get(token)
    if not isinstance(claims, Claims):
        claims = _claims(_signed_payload(token, keys))
        if len(keys.verified) >= keys.VERIFIED_CACHE:
            keys.verified.pop(next(iter(keys.verified)))
        keys.verified[token] = claims
    issuers = (issuer,) if isinstance(issuer, str) else issuer
    if issuers is not None and claims.issuer not in issuers:
        expected = " or ".join(repr(i) for i in issuers)
        raise WrongIssuer(f"token issued by {claims.issuer!r}, not by {expected}")
    if now > claims.expires + leeway:
        raise TokenExpired(f"token expired {now - claims.expires:.0f}s ago")
    if now < claims.not_before - leeway:
        raise TokenExpired(f"token not valid for another {claims.not_before - now:.0f}s")
    if audience not in claims.audiences:
        shown = ", ".join(repr(a) for a in claims.audiences)
        raise WrongAudience(f"token is for audience(s) {shown}, not {audience!r}")
    return claims


def _signed_payload(token: str, public: keys.PublicKeys) -> dict[str, Any]:
    """The payload of ``token`` once its signature verified with the key its ``kid`` names."""
    header = _header(token)
    kid = header.get("kid")
    algorithm = header.get("alg")
    if algorithm != keys.ALGORITHM:
        raise BadSignature(f"token is signed with {algorithm!r}, not {keys.ALGORITHM}")
    key = public.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise BadSignature(f"token is signed by an unknown key (kid {kid!r})")
    try:
        decoded = jwt.api_jws.decode_complete(token, key, algorithms=[keys.ALGORITHM])
    except jwt.InvalidSignatureError:
        raise BadSignature(f"token signature does not verify with key {kid!r}") from None
    except jwt.DecodeError as err:
        raise MalformedToken(f"token is not a JWT: {err}") from None
    try:
        payload = orjson.loads(decoded["payload"])
    except orjson.JSONDecodeError:
        raise MalformedToken("token claims are not JSON") from None
    if not isinstance(payload, dict):
        raise MalformedToken("token claims are not a JSON object")
    return payload


def _header(token: str) -> dict[str, Any]:
    """The JOSE header, to pick the key (PyJWT checks the whole token strictly after: this
    saves parsing it twice, the larger part of a first verification)."""
    if token.count(".") != 2:
        raise MalformedToken("token is not a JWT: not three dot-separated parts")
    head = token.partition(".")[0]
    try:
        header = orjson.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError):
        raise MalformedToken("token is not a JWT: its header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise MalformedToken("token is not a JWT: no header object")
    return header


def _claims(payload: Mapping[str, Any]) -> Claims:
    """The claims of a ServiceAccount token; :class:`MalformedToken` naming the first claim
    that is missing or of the wrong type."""
    iss, sub, jti = payload.get("iss"), payload.get("sub"), payload.get("jti", "")
    if not isinstance(iss, str) or not iss:
        raise MalformedToken("token claims: iss is missing")
    if not isinstance(sub, str) or not sub.startswith(SUBJECT_PREFIX):
        raise MalformedToken(f"token claims: sub is not {SUBJECT_PREFIX}<namespace>:<name>")
    aud = payload.get("aud")
    audiences = (aud,) if isinstance(aud, str) else aud
    if not isinstance(audiences, list | tuple) or not all(isinstance(a, str) for a in audiences):
        raise MalformedToken("token claims: aud is not a list of strings")
    times = {}
    for name in ("exp", "iat", "nbf"):
        value = payload.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise MalformedToken(f"token claims: {name} is not a number")
        times[name] = int(value)
    kube = payload.get(KUBERNETES_CLAIM)
    namespace, name, uid = _kubernetes_claim(kube)
    return Claims(
        issuer=iss,
        subject=sub,
        audiences=tuple(audiences),
        expires=times["exp"],
        issued_at=times["iat"],
        not_before=times["nbf"],
        token_id=jti if isinstance(jti, str) else "",
        service_account=ServiceAccountRef(namespace, name, uid),
    )


def _kubernetes_claim(kube: Any) -> tuple[str, str, str]:
    where = f"token claims: {KUBERNETES_CLAIM}"
    if not isinstance(kube, Mapping):
        raise MalformedToken(f"{where} is missing")
    namespace = kube.get("namespace")
    sa = kube.get("serviceaccount")
    if not isinstance(namespace, str) or not namespace:
        raise MalformedToken(f"{where}.namespace is missing")
    if not isinstance(sa, Mapping):
        raise MalformedToken(f"{where}.serviceaccount is missing")
    name, uid = sa.get("name"), sa.get("uid", "")
    if not isinstance(name, str) or not name or not isinstance(uid, str):
        raise MalformedToken(f"{where}.serviceaccount.name is missing")
    return namespace, name, uid
