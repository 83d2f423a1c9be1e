"""Minting and verifying ServiceAccount tokens: Kubernetes' claims, and one refusal per way
a token can be wrong (missing or malformed, expired or not yet valid, bad signature or
unknown key, wrong audience, wrong issuer)."""

from __future__ import annotations

import base64
import re
from typing import Any

import jwt
import orjson
import pytest

from kawa.errors import UnauthorizedError
from kawa.identity import keys, tokens

NOW = 1_800_000_000.0
ISSUER = "https://127.0.0.1:7443"
AUDIENCE = "eventing.knative.dev/broker/default/default"
SENDER = tokens.ServiceAccountRef("default", "sender", "0b7c-uid")


@pytest.fixture(scope="module")
def ring() -> keys.KeyRing:
    return keys.KeyRing((keys.new_key(NOW),))


@pytest.fixture(scope="module")
def other_ring() -> keys.KeyRing:
    return keys.KeyRing((keys.new_key(NOW),))


def _mint(ring: keys.KeyRing, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "issuer": ISSUER,
        "service_account": SENDER,
        "audiences": [AUDIENCE],
        "lifetime": 3600,
        "now": NOW,
    }
    args.update(overrides)
    token, _ = tokens.mint(keys.signer(ring), **args)
    return token


def _verify(token: str, ring: keys.KeyRing, **overrides: Any) -> tokens.Claims:
    args: dict[str, Any] = {
        "audience": AUDIENCE,
        "keys": keys.public_keys(ring),
        "issuer": ISSUER,
        "now": NOW + 10,
    }
    args.update(overrides)
    return tokens.verify(token, **args)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def test_a_minted_token_carries_kubernetes_claims(ring: keys.KeyRing) -> None:
    token = _mint(ring, audiences=[AUDIENCE, "other"])
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": ring.current.kid, "typ": "JWT"}
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["iss"] == ISSUER
    assert payload["sub"] == "system:serviceaccount:default:sender"
    assert payload["aud"] == [AUDIENCE, "other"]
    assert (payload["iat"], payload["nbf"], payload["exp"]) == (NOW, NOW, NOW + 3600)
    assert payload["kubernetes.io"] == {
        "namespace": "default",
        "serviceaccount": {"name": "sender", "uid": "0b7c-uid"},
    }
    assert len(payload["jti"]) == 36
    assert payload["jti"] != jwt.decode(_mint(ring), options={"verify_signature": False})["jti"]


def test_a_valid_token_verifies_to_its_claims(ring: keys.KeyRing) -> None:
    claims = _verify(_mint(ring), ring)
    assert claims.subject == "system:serviceaccount:default:sender"
    assert claims.service_account == SENDER
    assert claims.audiences == (AUDIENCE,)
    assert claims.expires == NOW + 3600
    # any of several issuers (nodes of one store), and within the leeway either side
    assert _verify(_mint(ring), ring, issuer=["https://other:7443", ISSUER]).issuer == ISSUER
    _verify(_mint(ring), ring, now=NOW + 3600 + tokens.LEEWAY)
    _verify(_mint(ring), ring, now=NOW - tokens.LEEWAY)


def test_the_verifier_is_the_standard_one(ring: keys.KeyRing) -> None:
    """PyJWT with the JWKS's key accepts the token as any OIDC verifier would."""
    token = _mint(ring)
    jwk = keys.jwks(keys.public_keys(ring))["keys"][0]
    public = jwt.PyJWK.from_dict(jwk)
    decoded = jwt.decode(
        token,
        public,
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert decoded["sub"] == "system:serviceaccount:default:sender"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "a.b.c",
        "..",
        "bm90IGpzb24.e30.c2ln",
        "W10.e30.c2ln",
        "eyJhbGciOiJSUzI1NiJ9.e30",
    ],
)
def test_a_missing_or_malformed_token_is_refused(ring: keys.KeyRing, token: str) -> None:
    with pytest.raises(tokens.MalformedToken) as refused:
        _verify(token, ring)
    assert isinstance(refused.value, UnauthorizedError)  # the API and ingress answer 401


def test_a_token_without_serviceaccount_claims_is_malformed(ring: keys.KeyRing) -> None:
    signer = keys.signer(ring)
    base = {"iss": ISSUER, "sub": "system:serviceaccount:default:sender", "aud": [AUDIENCE]}
    times = {"exp": NOW + 60, "iat": NOW, "nbf": NOW}
    for claims, missing in [
        ({**base, **times}, "kubernetes.io is missing"),
        ({**base, "exp": NOW + 60}, "iat is not a number"),
        ({**base, **times, "sub": "alice"}, "sub is not system:serviceaccount"),
    ]:
        token = jwt.encode(claims, signer.private_key, "RS256", headers={"kid": signer.kid})
        with pytest.raises(tokens.MalformedToken, match=missing):
            _verify(token, ring)


def test_an_expired_token_is_refused(ring: keys.KeyRing) -> None:
    with pytest.raises(tokens.TokenExpired, match="expired 61s ago"):
        _verify(_mint(ring), ring, now=NOW + 3600 + tokens.LEEWAY + 1)


def test_a_token_not_yet_valid_is_refused(ring: keys.KeyRing) -> None:
    with pytest.raises(tokens.TokenExpired, match="not valid for another 61s"):
        _verify(_mint(ring), ring, now=NOW - tokens.LEEWAY - 1)


def test_a_token_signed_by_another_key_is_refused(
    ring: keys.KeyRing, other_ring: keys.KeyRing
) -> None:
    with pytest.raises(tokens.BadSignature, match="unknown key"):
        _verify(_mint(other_ring), ring)


def test_a_forged_token_under_a_known_key_id_is_refused(
    ring: keys.KeyRing, other_ring: keys.KeyRing
) -> None:
    forger = keys.signer(other_ring)
    token, _ = tokens.mint(
        keys.Signer(ring.current.kid, forger.private_key),
        issuer=ISSUER,
        service_account=SENDER,
        audiences=[AUDIENCE],
        lifetime=3600,
        now=NOW,
    )
    with pytest.raises(tokens.BadSignature, match="does not verify"):
        _verify(token, ring)


def test_a_tampered_token_is_refused(ring: keys.KeyRing) -> None:
    header, _, signature = _mint(ring).split(".")
    claims = jwt.decode(_mint(ring), options={"verify_signature": False})
    claims["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    with pytest.raises(tokens.BadSignature):
        _verify(f"{header}.{_b64(claims)}.{signature}", ring)


def test_an_unsigned_token_is_refused(ring: keys.KeyRing) -> None:
    claims = jwt.decode(_mint(ring), options={"verify_signature": False})
    token = f"{_b64({'alg': 'none', 'kid': ring.current.kid})}.{_b64(claims)}."
    with pytest.raises(tokens.BadSignature, match="'none', not RS256"):
        _verify(token, ring)


def test_a_token_for_another_audience_is_refused(ring: keys.KeyRing) -> None:
    token = _mint(ring, audiences=["eventing.knative.dev/broker/default/other"])
    with pytest.raises(
        tokens.WrongAudience, match=re.escape("not 'eventing.knative.dev/broker/default/default'")
    ):
        _verify(token, ring)


def test_a_token_of_another_issuer_is_refused(ring: keys.KeyRing) -> None:
    with pytest.raises(tokens.WrongIssuer, match="issued by 'https://elsewhere:6443'"):
        _verify(_mint(ring, issuer="https://elsewhere:6443"), ring)


def test_a_signature_is_checked_once_per_key_set(ring: keys.KeyRing) -> None:
    public = keys.public_keys(ring)
    token = _mint(ring)
    first = _verify(token, ring, keys=public)
    assert public.verified[token] is first
    # the remembered claims are checked again every time: time and audience still hold
    with pytest.raises(tokens.TokenExpired):
        _verify(token, ring, keys=public, now=NOW + 7200)
    with pytest.raises(tokens.WrongAudience):
        _verify(token, ring, keys=public, audience="other")
    # a new key set (the ring changed) verifies afresh
    assert token not in keys.public_keys(ring).verified
