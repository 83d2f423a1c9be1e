"""The issuer's key ring: rotation keeps a retired key until every token it signed has
expired; the ring round-trips through its Secret; the JWKS is RFC 7517's."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kawa.identity import keys, tokens

DAY = 24 * 3600.0
T0 = 1_800_000_000.0
ISSUER = "https://127.0.0.1:7443"
SENDER = tokens.ServiceAccountRef("default", "sender", "uid-1")


@pytest.fixture(scope="module")
def pair() -> tuple[keys.SigningKey, keys.SigningKey]:
    return keys.new_key(T0), keys.new_key(T0 + 7 * DAY)


def test_a_new_key_is_rsa_2048_with_kubernetes_key_id() -> None:
    key = keys.new_key(T0)
    public = keys.signer(keys.KeyRing((key,))).private_key.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == keys.RSA_BITS
    assert key.kid == keys.key_id(public)
    assert len(key.kid) == 43  # base64url of a SHA-256, unpadded
    assert key.created == T0
    assert key.retired is None


def test_rotation_is_due_after_the_rotation_period(pair: tuple[keys.SigningKey, ...]) -> None:
    ring = keys.KeyRing((pair[0],))
    assert not keys.rotation_due(ring, T0 + 7 * DAY - 1)
    assert keys.rotation_due(ring, T0 + 7 * DAY)
    assert keys.rotation_due(ring, T0 + 60, rotation=60)  # the period is a parameter
    assert keys.rotation_due(ring, T0 - keys.GRACE - 1)  # a key from the future: clock went back


def test_a_retired_key_stays_until_its_tokens_have_expired(
    pair: tuple[keys.SigningKey, ...],
) -> None:
    old, new = pair
    retired_at = T0 + 7 * DAY
    ring = keys.rotated(keys.KeyRing((old,)), new, retired_at)
    assert ring.current == new
    assert ring.keys[1].kid == old.kid
    assert ring.keys[1].retired == retired_at
    # a token the old key signed just before it retired, as long as any token lives
    token, _ = tokens.mint(
        keys.signer(keys.KeyRing((old,))),
        issuer=ISSUER,
        service_account=SENDER,
        audiences=["a"],
        lifetime=keys.MAX_TOKEN_LIFETIME,
        now=retired_at,
    )
    last_valid = retired_at + keys.MAX_TOKEN_LIFETIME
    kept = keys.pruned(ring, last_valid)
    assert kept is ring
    tokens.verify(token, audience="a", keys=keys.public_keys(kept), issuer=ISSUER, now=last_valid)
    assert [k["kid"] for k in keys.jwks(keys.public_keys(kept))["keys"]] == [new.kid, old.kid]
    # and a grace beyond (nodes that signed with it before they saw the new key)
    assert keys.pruned(ring, last_valid + keys.GRACE) is ring
    gone = keys.pruned(ring, last_valid + keys.GRACE + 1)
    assert [k.kid for k in gone.keys] == [new.kid]
    with pytest.raises(tokens.BadSignature, match="unknown key"):
        tokens.verify(
            token, audience="a", keys=keys.public_keys(gone), issuer=ISSUER, now=last_valid
        )


def test_a_shorter_token_lifetime_prunes_sooner(pair: tuple[keys.SigningKey, ...]) -> None:
    ring = keys.rotated(keys.KeyRing((pair[0],)), pair[1], T0)
    assert len(keys.pruned(ring, T0 + 600 + keys.GRACE, max_lifetime=600).keys) == 2
    assert len(keys.pruned(ring, T0 + 601 + keys.GRACE, max_lifetime=600).keys) == 1


def test_the_ring_round_trips_through_its_secret(pair: tuple[keys.SigningKey, ...]) -> None:
    ring = keys.rotated(keys.KeyRing((pair[0],)), pair[1], T0 + 7 * DAY)
    secret = keys.new_secret(ring)
    assert secret["metadata"] == {"name": "kawa-service-account-keys", "namespace": "kube-system"}
    assert keys.ring_of(secret) == ring


def _secret(value: Any) -> dict[str, Any]:
    encoded = base64.b64encode(orjson.dumps(value)).decode()
    return {"data": {keys.SECRET_KEY: encoded}}


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ({}, r"data\[keys.json\]: missing"),
        ({"data": {keys.SECRET_KEY: "%%%"}}, "not base64 of JSON"),
        (_secret([]), "not a non-empty list"),
        (_secret(["x"]), r"\[0\]: not an object"),
        (_secret([{"created": 1, "privateKey": "PRIVATE KEY"}]), r"\[0\].kid: missing"),
        (_secret([{"kid": "k", "created": "x", "privateKey": "-"}]), r"\[0\].created"),
        (_secret([{"kid": "k", "created": 1, "privateKey": "x"}]), r"\[0\].privateKey"),
    ],
)
def test_an_unusable_secret_names_the_field(secret: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        keys.ring_of(secret)


def test_the_jwks_holds_each_public_key(pair: tuple[keys.SigningKey, ...]) -> None:
    ring = keys.KeyRing(pair)
    rendered = keys.jwks(keys.public_keys(ring))
    assert [k["kid"] for k in rendered["keys"]] == [pair[0].kid, pair[1].kid]
    first = rendered["keys"][0]
    assert (first["kty"], first["alg"], first["use"], first["e"]) == ("RSA", "RS256", "sig", "AQAB")
    public = keys.signer(keys.KeyRing((pair[0],))).private_key.public_key()
    n = int.from_bytes(base64.urlsafe_b64decode(first["n"] + "=" * (-len(first["n"]) % 4)), "big")
    assert n == public.public_numbers().n
    assert "d" not in first  # no private part


def test_a_key_ring_is_never_empty() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        keys.KeyRing(())
