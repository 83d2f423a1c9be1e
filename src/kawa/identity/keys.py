"""The issuer's signing keys: RSA, RS256 (what Kubernetes signs ServiceAccount tokens with).

A :class:`KeyRing` holds the current signing key first, then the keys it replaced, each with
the time it was made (``created``) and the time a newer key took over (``retired``).
:func:`rotation_due` says when the current key is older than the rotation period;
:func:`rotated` puts a new key in front; :func:`pruned` drops a retired key once every token
it may have signed has expired (its retirement, plus the longest token lifetime, plus a
grace for nodes that still signed with it until they saw the new key).

The ring lives in a Secret (:func:`new_secret`, :func:`ring_of`, :func:`secret_data`: one
data entry, ``keys.json``, a JSON list of keys with their private key in PKCS#8 PEM).
:class:`Signer` and :class:`PublicKeys` are the parsed forms, built once per ring: parsing a
PEM costs far more than verifying a signature. :func:`jwks` renders the public keys as a
JSON Web Key Set (RFC 7517), key ids as Kubernetes computes them (base64url of the SHA-256
of the DER public key).

Pure: no I/O, no clock (every time is a parameter). Used by :mod:`.keyring` and
:mod:`.tokens`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM: Final = "RS256"
"""The JWS algorithm of every token (RFC 7518 section 3.3), as Kubernetes'."""
RSA_BITS: Final = 2048
ROTATION: Final = 7 * 24 * 3600.0
"""Seconds a signing key signs before a new one takes over."""
MAX_TOKEN_LIFETIME: Final = 24 * 3600
"""The longest validity (seconds) of a token kawa issues: longer requests are shortened to
it, as Kubernetes' ``--service-account-max-token-expiration`` does."""
GRACE: Final = 600.0
"""Seconds a retired key is kept beyond :data:`MAX_TOKEN_LIFETIME`: other nodes may sign
with it until they read the new ring, and verifiers allow for clock skew."""

SECRET_NAMESPACE: Final = "kube-system"
SECRET_NAME: Final = "kawa-service-account-keys"
SECRET_KEY: Final = "keys.json"
"""The Secret's data entry holding the ring (base64 of a JSON list of keys)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One RSA key: its id, when it was made and retired (unix seconds), its private PEM."""

    kid: str
    created: float
    private_pem: bytes
    retired: float | None = None
    """When a newer key took over signing (None: this key signs)."""


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The signing key first, then the retired keys whose tokens may still be valid."""

    keys: tuple[SigningKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a key ring holds at least one key")

    @property
    def current(self) -> SigningKey:
        return self.keys[0]


def key_id(public: rsa.RSAPublicKey) -> str:
    """Kubernetes' key id: unpadded base64url of the SHA-256 of the PKIX DER public key."""
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _b64url(hashlib.sha256(der).digest())


def new_key(now: float) -> SigningKey:
    """A fresh RSA key made at ``now`` (CPU-bound, tens of milliseconds: run it in a thread)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey(kid=key_id(private.public_key()), created=now, private_pem=pem)


def rotation_due(ring: KeyRing, now: float, rotation: float = ROTATION) -> bool:
    """Whether the signing key is ``rotation`` seconds old (or made in the future: a clock
    that went back; a new key is the safe answer)."""
    age = now - ring.current.created
    return age >= rotation or age < -GRACE


def rotated(ring: KeyRing, key: SigningKey, now: float) -> KeyRing:
    """``ring`` with ``key`` signing and the former signing key retired at ``now``."""
    return KeyRing((key, replace(ring.current, retired=now), *ring.keys[1:]))


def pruned(
    ring: KeyRing, now: float, max_lifetime: float = MAX_TOKEN_LIFETIME, grace: float = GRACE
) -> KeyRing:
    """``ring`` without the retired keys every token of which has expired."""
    kept = tuple(
        k for k in ring.keys if k.retired is None or now - k.retired <= max_lifetime + grace
    )
    return ring if len(kept) == len(ring.keys) else KeyRing(kept)


# -- the Secret ---------------------------------------------------------------------------


def secret_data(ring: KeyRing) -> dict[str, str]:
    """The Secret's ``data`` holding ``ring``."""
    listed = [
        {
            "kid": k.kid,
            "created": k.created,
            **({"retired": k.retired} if k.retired is not None else {}),
            "privateKey": k.private_pem.decode("ascii"),
        }
        for k in ring.keys
    ]
    return {SECRET_KEY: base64.b64encode(orjson.dumps(listed)).decode("ascii")}


def new_secret(ring: KeyRing) -> dict[str, Any]:
    """The Secret ``kube-system/kawa-service-account-keys`` holding ``ring``."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": SECRET_NAMESPACE},
        "type": "Opaque",
        "data": secret_data(ring),
    }


def ring_of(secret: Mapping[str, Any]) -> KeyRing:
    """The ring in the Secret; :class:`ValueError` naming the field when it is unusable."""
    where = f"Secret {SECRET_NAMESPACE}/{SECRET_NAME}: data[{SECRET_KEY}]"
    data = secret.get("data")
    value = data.get(SECRET_KEY) if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: missing")
    try:
        listed = orjson.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: not base64 of JSON") from None
    if not isinstance(listed, list) or not listed:
        raise ValueError(f"{where}: not a non-empty list of keys")
    return KeyRing(tuple(_key_of(item, f"{where}[{i}]") for i, item in enumerate(listed)))


def _key_of(item: Any, where: str) -> SigningKey:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: not an object")
    kid, created, pem = item.get("kid"), item.get("created"), item.get("privateKey")
    retired = item.get("retired")
    if not isinstance(kid, str) or not kid:
        raise ValueError(f"{where}.kid: missing")
    if not isinstance(created, int | float) or isinstance(created, bool):
        raise ValueError(f"{where}.created: not a number")
    if retired is not None and (not isinstance(retired, int | float) or isinstance(retired, bool)):
        raise ValueError(f"{where}.retired: not a number")
    if not isinstance(pem, str) or "PRIVATE KEY" not in pem:
        raise ValueError(f"{where}.privateKey: not a PEM private key")
    return SigningKey(kid, float(created), pem.encode("ascii"), retired)


# -- the parsed keys ----------------------------------------------------------------------


def _private_key(key: SigningKey) -> rsa.RSAPrivateKey:
    try:
        private = serialization.load_pem_private_key(key.private_pem, password=None)
    except (ValueError, TypeError):
        raise ValueError(f"key {key.kid}: the private key does not parse") from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError(f"key {key.kid}: not an RSA key")
    return private


@dataclass(frozen=True, slots=True)
class Signer:
    """The signing key, parsed: what :func:`.tokens.mint` signs with."""

    kid: str
    private_key: rsa.RSAPrivateKey


def signer(ring: KeyRing) -> Signer:
    """The parsed signing key of ``ring`` (:class:`ValueError` if it does not parse)."""
    return Signer(ring.current.kid, _private_key(ring.current))


def parsed(ring: KeyRing) -> tuple[Signer, PublicKeys]:
    """The signer and the public keys of ``ring``, each PEM parsed once (tens of
    milliseconds per key: run it in a thread)."""
    private = {k.kid: _private_key(k) for k in ring.keys}
    public = PublicKeys({kid: key.public_key() for kid, key in private.items()})
    return Signer(ring.current.kid, private[ring.current.kid]), public


class PublicKeys:
    """The public keys of a ring by key id, parsed once; what :func:`.tokens.verify` checks
    signatures with. It also remembers, for its own lifetime, the tokens whose signature it
    verified, with their claims (at most :data:`VERIFIED_CACHE` tokens): a sender presents
    one token many times, and a signature is checked once per ring."""

    __slots__ = ("_keys", "verified")

    VERIFIED_CACHE: Final = 4096

    def __init__(self, keys: Mapping[str, rsa.RSAPublicKey]) -> None:
        self._keys = dict(keys)
        self.verified: dict[str, Any] = {}
        """Token -> its claims, once its signature verified (:func:`.tokens.verify`)."""

    def get(self, kid: str) -> rsa.RSAPublicKey | None:
        return self._keys.get(kid)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def items(self) -> Iterator[tuple[str, rsa.RSAPublicKey]]:
        return iter(self._keys.items())

    def __len__(self) -> int:
        return len(self._keys)


def public_keys(ring: KeyRing) -> PublicKeys:
    """The parsed public keys of every key in ``ring``."""
    return PublicKeys({k.kid: _private_key(k).public_key() for k in ring.keys})


def jwks(keys: PublicKeys) -> dict[str, Any]:
    """The JSON Web Key Set of ``keys`` (``GET /openid/v1/jwks``)."""
    listed = []
    for kid, public in keys.items():
        numbers = public.public_numbers()
        listed.append(
            {
                "use": "sig",
                "kty": "RSA",
                "kid": kid,
                "alg": ALGORITHM,
                "n": _b64url(_int_bytes(numbers.n)),
                "e": _b64url(_int_bytes(numbers.e)),
            }
        )
    return {"keys": listed}


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
