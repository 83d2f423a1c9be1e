"""kawa as the OIDC issuer, with the real kubectl: ``kubectl create token`` gives a JWT that
verifies with the keys any client fetches, without credentials, from the issuer's discovery
documents over HTTPS; a missing ServiceAccount is kubectl's NotFound; a bad spec is a 422
naming the field."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any

import jwt
import orjson
import pytest
import yaml

from ..e2e.e2e_support import KawaProcess
from .kubectl_support import Api, Kubectl

pytestmark = pytest.mark.slow

AUDIENCE = "eventing.knative.dev/broker/default/default"


def _public_get(api: Api, path: str) -> tuple[int, Any]:
    """GET over the API's HTTPS port with no Authorization header at all."""
    conn = api.connection()
    try:
        conn.request("GET", path)
        resp: http.client.HTTPResponse = conn.getresponse()
        return resp.status, orjson.loads(resp.read())
    finally:
        conn.close()


def _issuer(kawa: KawaProcess) -> str:
    config = yaml.safe_load((kawa.data_dir / "kubeconfig").read_text())
    return str(config["clusters"][0]["cluster"]["server"])


def test_kubectl_create_token_verifies_with_the_published_keys(
    kawa: KawaProcess, kubectl: Kubectl, api: Api, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("oidc-sender")
    kubectl.ok("create", "serviceaccount", "sender", "-n", ns)
    uid = kubectl.json("get", "serviceaccount", "sender", "-n", ns)["metadata"]["uid"]
    token = kubectl.ok(
        "create", "token", "sender", "-n", ns, "--audience", AUDIENCE, "--duration", "20m"
    ).strip()

    issuer = _issuer(kawa)
    code, config = _public_get(api, "/.well-known/openid-configuration")
    assert code == 200, config
    assert config == {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/openid/v1/jwks",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    assert config["jwks_uri"].startswith(f"https://{api.host}:{api.port}/")
    code, jwks = _public_get(api, config["jwks_uri"].removeprefix(issuer))
    assert code == 200, jwks

    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=issuer)
    assert claims["sub"] == f"system:serviceaccount:{ns}:sender"
    assert claims["aud"] == [AUDIENCE]
    assert claims["exp"] - claims["iat"] == 20 * 60
    assert claims["nbf"] == claims["iat"]
    assert claims["kubernetes.io"] == {
        "namespace": ns,
        "serviceaccount": {"name": "sender", "uid": uid},
    }
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key, algorithms=["RS256"], audience="eventing.knative.dev/broker/x/y")

    # no audience given: the issuer's own URL; the answer says when the token expires
    answer = kubectl.json("create", "token", "sender", "-n", ns)
    assert answer["kind"] == "TokenRequest"
    assert answer["spec"]["audiences"] == [issuer]
    assert answer["spec"]["expirationSeconds"] == 3600
    default = jwt.decode(answer["status"]["token"], key, algorithms=["RS256"], audience=issuer)
    assert answer["status"]["expirationTimestamp"].endswith("Z")
    assert default["exp"] - default["iat"] == 3600


def test_a_missing_service_account_is_not_found(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("oidc-missing")
    refused = kubectl.fails("create", "token", "nobody", "-n", ns)
    assert 'serviceaccounts "nobody" not found' in refused.stderr, refused.explain()


def test_a_bad_token_request_names_its_fields(
    kubectl: Kubectl, api: Api, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("oidc-invalid")
    kubectl.ok("create", "serviceaccount", "sender", "-n", ns)
    refused = kubectl.fails("create", "token", "sender", "-n", ns, "--duration", "5m")
    assert "spec.expirationSeconds" in refused.stderr, refused.explain()
    assert "less than 10 minutes" in refused.stderr, refused.explain()

    body = {"spec": {"expirationSeconds": 10, "audiences": [""]}}
    resp = api.request(
        "POST", f"/api/v1/namespaces/{ns}/serviceaccounts/sender/token", orjson.dumps(body)
    )
    assert resp.status == 422, resp.body
    status = resp.json()
    assert status["reason"] == "Invalid"
    assert status["details"]["kind"] == "TokenRequest"
    assert status["details"]["group"] == "authentication.k8s.io"
    fields = [c["field"] for c in status["details"]["causes"]]
    assert fields == ["spec.audiences[0]", "spec.expirationSeconds"]


def test_tokens_need_the_api_token_but_discovery_does_not(api: Api) -> None:
    code, status = _public_get(api, "/api/v1/namespaces/default/serviceaccounts/default/token")
    assert code == 401, status
    code, jwks = _public_get(api, "/openid/v1/jwks")
    assert code == 200
    assert jwks["keys"]
    assert all(k["kty"] == "RSA" and "d" not in k for k in jwks["keys"])
    resources = api.call("GET", "/api/v1")["resources"]
    token = next(r for r in resources if r["name"] == "serviceaccounts/token")
    assert token == {
        "name": "serviceaccounts/token",
        "singularName": "",
        "namespaced": True,
        "group": "authentication.k8s.io",
        "version": "v1",
        "kind": "TokenRequest",
        "verbs": ["create"],
    }
