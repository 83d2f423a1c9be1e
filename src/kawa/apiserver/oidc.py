"""kawa as the OIDC issuer: the ``serviceaccounts/token`` subresource and OIDC discovery.

- ``POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`` (``kubectl create token``):
  an ``authentication.k8s.io/v1`` ``TokenRequest`` (:mod:`kawa.identity.token_request`)
  answered ``201`` with a token signed by the cluster's current key; ``404`` when the
  ServiceAccount does not exist; ``422`` naming the fields of a bad spec.
- ``GET /.well-known/openid-configuration`` and ``GET /openid/v1/jwks``: the OpenID Provider
  configuration (as Kubernetes serves it: issuer, ``jwks_uri``, ``response_types_supported``
  ``id_token``, ``subject_types_supported`` ``public``, RS256) and the JSON Web Key Set of
  every key whose tokens may still be valid. Both are public
  (:data:`kawa.apiserver.access.PUBLIC_PATHS`), as verifiers fetch them without credentials.

The issuer is kawa's API URL as clients reach it (:attr:`ServiceAccountTokens.issuer`, set
by :mod:`kawa.runtime` once the API listens). Keys: :mod:`kawa.identity.keyring`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from aiohttp import web

from kawa.apis import core
from kawa.apiserver import status
from kawa.apiserver.requests import Target, read_body
from kawa.apiserver.responses import json_response
from kawa.errors import KawaError, MethodNotAllowedError, ValidationError
from kawa.identity import keys, token_request, tokens
from kawa.identity.keyring import SigningKeys
from kawa.store.base import ResourceKey, ResourceStore

DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
JWKS_PATH: Final = "/openid/v1/jwks"
JWKS_MAX_AGE: Final = 60
"""Seconds a client may cache the JWKS (a rotated key is published a rotation period ahead
of the tokens it signs being refused: no client needs it sooner)."""


class ServiceAccountTokens:
    """Issues ServiceAccount tokens and serves the issuer's discovery documents."""

    def __init__(
        self,
        store: ResourceStore,
        signing_keys: SigningKeys,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.signing_keys = signing_keys
        self.clock = clock
        self.issuer = ""
        """The issuer URL (``https://<host>:<api port>``), set once the API listens."""

    def install(self, app: web.Application) -> None:
        app.add_routes(
            [web.get(DISCOVERY_PATH, self.openid_configuration), web.get(JWKS_PATH, self.jwks)]
        )

    async def openid_configuration(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "issuer": self.issuer,
                "jwks_uri": f"{self.issuer}{JWKS_PATH}",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [keys.ALGORITHM],
            }
        )

    async def jwks(self, request: web.Request) -> web.Response:
        try:
            public = await self.signing_keys.public_keys()
        except KawaError as err:
            return status.error_response(err)
        response = json_response(keys.jwks(public))
        response.content_type = "application/jwk-set+json"
        response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
        return response

    async def token(self, request: web.Request, target: Target) -> web.StreamResponse:
        """The ``serviceaccounts/<name>/token`` subresource (registered by the runtime)."""
        if request.method != "POST":
            raise MethodNotAllowedError(f"{request.method} is not allowed on token: POST it")
        namespace, name = target.namespace or "default", target.name or ""
        body = await read_body(request)
        try:
            spec = token_request.parse(
                body, default_audience=self.issuer, max_lifetime=self.signing_keys.max_lifetime
            )
        except ValidationError as err:
            return status.error_response(
                err, kind=token_request.KIND, group="authentication.k8s.io", name=name
            )
        account = await self.store.get(ResourceKey(core.SERVICE_ACCOUNT.resource, namespace, name))
        uid = str((account.get("metadata") or {}).get("uid", ""))
        signer = await self.signing_keys.signer()
        now = self.clock()
        token, claims = tokens.mint(
            signer,
            issuer=self.issuer,
            service_account=tokens.ServiceAccountRef(namespace, name, uid),
            audiences=spec.audiences,
            lifetime=spec.expiration_seconds,
            now=now,
        )
        answer = token_request.answer(
            body if isinstance(body, dict) else {},
            spec,
            namespace=namespace,
            name=name,
            token=token,
            expires=claims.expires,
            now=now,
        )
        return json_response(answer, 201)
