"""kawa as the OIDC issuer of ServiceAccount tokens (Knative's sender identity).

- :mod:`.keys`: the signing keys (RS256, as Kubernetes), their rotation, the Secret that
  holds them and the JWKS the discovery endpoint serves; pure.
- :mod:`.tokens`: minting a token with Kubernetes' claims and verifying one (one error per
  way a token is refused); pure.
- :mod:`.token_request`: the ``authentication.k8s.io/v1`` ``TokenRequest`` a client POSTs to
  ``serviceaccounts/<name>/token``: defaults, bounds, the answer; pure.
- :mod:`.keyring`: the keys in the resource store (``kube-system/kawa-service-account-keys``),
  created by the first node that lacks them and rotated by whichever node sees them due, so
  every node sharing a store issues and verifies the same tokens.

The API server serves the TokenRequest and discovery (:mod:`kawa.apiserver.oidc`); the data
plane's ingress verifies senders' tokens with :func:`.tokens.verify`.
See docs/decisions/0065-oidc-issuer.md and docs/security.md.
"""
