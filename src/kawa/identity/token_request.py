"""The ``TokenRequest`` (``authentication.k8s.io/v1``) a client POSTs to
``/api/v1/namespaces/<ns>/serviceaccounts/<name>/token`` (``kubectl create token``).

:func:`parse` reads its ``spec`` with Kubernetes' defaults and bounds (the API reference of
TokenRequest, ``pkg/apis/authentication/validation``): ``expirationSeconds`` defaults to
3600, may not be under 600 (10 minutes) nor over 2^32; longer than kawa's longest lifetime
(:data:`~.keys.MAX_TOKEN_LIFETIME`) it is shortened to it, as Kubernetes does with
``--service-account-max-token-expiration`` (the answer's ``spec`` says what was granted);
``audiences`` defaults to the issuer's URL. Every problem is reported at its field path in
one :class:`~kawa.errors.ValidationError`. :func:`answer` is the TokenRequest returned (201)
with ``status.token`` and ``status.expirationTimestamp``.

Pure; the API server's handler is :mod:`kawa.apiserver.oidc`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.errors import FieldError, ValidationError
from kawa.identity import keys

API_VERSION: Final = "authentication.k8s.io/v1"
KIND: Final = "TokenRequest"
DEFAULT_EXPIRATION: Final = 3600
MIN_EXPIRATION: Final = 600
MAX_EXPIRATION: Final = 1 << 32


@dataclass(frozen=True, slots=True)
class TokenRequestSpec:
    """What a request asks for, defaulted and within bounds."""

    audiences: tuple[str, ...]
    expiration_seconds: int


def parse(
    body: Any, *, default_audience: str, max_lifetime: int = keys.MAX_TOKEN_LIFETIME
) -> TokenRequestSpec:
    """The spec of a TokenRequest body (``{}`` and no spec take every default)."""
    subject = KIND
    if not isinstance(body, Mapping):
        raise ValidationError.single("", "the body is not a TokenRequest object", subject=subject)
    errors: list[FieldError] = []
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if api_version not in (None, "", API_VERSION):
        errors.append(FieldError("apiVersion", f"must be {API_VERSION}, not {api_version!r}"))
    if kind not in (None, "", KIND):
        errors.append(FieldError("kind", f"must be {KIND}, not {kind!r}"))
    spec = body.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise ValidationError([*errors, FieldError("spec", "must be an object")], subject=subject)
    audiences = _audiences(spec.get("audiences"), errors) or (default_audience,)
    expiration = _expiration(spec.get("expirationSeconds"), errors)
    if spec.get("boundObjectRef") is not None:
        errors.append(
            FieldError(
                "spec.boundObjectRef",
                "Unsupported value: kawa does not bind tokens to objects (leave it out)",
            )
        )
    if errors:
        raise ValidationError(errors, subject=subject)
    return TokenRequestSpec(audiences, min(expiration, max_lifetime))


def _audiences(value: Any, errors: list[FieldError]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append(FieldError("spec.audiences", "must be a list of strings"))
        return ()
    out: list[str] = []
    for i, audience in enumerate(value):
        if not isinstance(audience, str) or not audience:
            errors.append(FieldError(f"spec.audiences[{i}]", "must be a non-empty string"))
        elif audience not in out:
            out.append(audience)
    return tuple(out)


def _expiration(value: Any, errors: list[FieldError]) -> int:
    path = "spec.expirationSeconds"
    if value is None:
        return DEFAULT_EXPIRATION
    if not isinstance(value, int) or isinstance(value, bool):
        errors.append(FieldError(path, f"Invalid value: {value!r}: must be an integer"))
        return DEFAULT_EXPIRATION
    if value < MIN_EXPIRATION:
        errors.append(
            FieldError(
                path, f"Invalid value: {value}: may not specify a duration less than 10 minutes"
            )
        )
    elif value > MAX_EXPIRATION:
        errors.append(
            FieldError(
                path, f"Invalid value: {value}: may not specify a duration larger than 2^32 seconds"
            )
        )
    return value


def answer(
    body: Mapping[str, Any],
    spec: TokenRequestSpec,
    *,
    namespace: str,
    name: str,
    token: str,
    expires: int,
    now: float,
) -> dict[str, Any]:
    """The TokenRequest answered: the request's metadata, the granted spec, the token."""
    metadata = body.get("metadata")
    meta = dict(metadata) if isinstance(metadata, Mapping) else {}
    meta.update(name=name, namespace=namespace, creationTimestamp=_rfc3339(now))
    return {
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": meta,
        "spec": {
            "audiences": list(spec.audiences),
            "expirationSeconds": spec.expiration_seconds,
            "boundObjectRef": None,
        },
        "status": {"token": token, "expirationTimestamp": _rfc3339(expires)},
    }


def _rfc3339(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(int(seconds), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
