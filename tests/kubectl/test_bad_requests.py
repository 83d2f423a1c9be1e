"""Fuzz-style bad input straight over HTTPS: malformed bodies, wrong content types, a huge
body, bad patches of every type, bad selectors and continue tokens. kawa never answers 500:
always a ``Status`` object with a 4xx code, and nothing stored changes."""

from __future__ import annotations

import base64

import orjson
import pytest

from .kubectl_support import Api, Response

pytestmark = pytest.mark.slow

BROKERS = "/apis/eventing.knative.dev/v1/namespaces/default/brokers"
BROKER = f"{BROKERS}/fuzz"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
CONFIGMAP = f"{CONFIGMAPS}/fuzz"
JSON = "application/json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def _broker(**changes: object) -> bytes:
    obj = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "fuzz-new", "namespace": "default"},
        **changes,
    }
    return orjson.dumps(obj)


BAD: list[tuple[str, str, str, bytes | None, str | None]] = [
    # creates
    ("not json", "POST", BROKERS, b"{not json", JSON),
    ("json array", "POST", BROKERS, b"[1, 2, 3]", JSON),
    ("json null", "POST", BROKERS, b"null", JSON),
    ("json string", "POST", BROKERS, b'"broker"', JSON),
    ("empty body", "POST", BROKERS, b"", JSON),
    ("empty object", "POST", BROKERS, b"{}", JSON),
    ("wrong apiVersion", "POST", BROKERS, _broker(apiVersion="eventing.knative.dev/v9"), JSON),
    ("wrong kind", "POST", BROKERS, _broker(kind="Trigger"), JSON),
    ("unknown kind", "POST", BROKERS, _broker(kind="Nonsense"), JSON),
    ("metadata a list", "POST", BROKERS, _broker(metadata=[1]), JSON),
    ("name a number", "POST", BROKERS, _broker(metadata={"name": 7}), JSON),
    ("bad name", "POST", BROKERS, _broker(metadata={"name": "Not_A_Name"}), JSON),
    ("other namespace", "POST", BROKERS, _broker(metadata={"name": "x", "namespace": "o"}), JSON),
    ("spec a string", "POST", BROKERS, _broker(spec="yes"), JSON),
    ("labels not strings", "POST", BROKERS, _broker(metadata={"name": "x", "labels": [1]}), JSON),
    ("deep nesting", "POST", BROKERS, b"[" * 100_000 + b"]" * 100_000, JSON),
    ("invalid utf-8", "POST", BROKERS, b'{"kind": "\xff\xfe"}', JSON),
    ("text/plain", "POST", BROKERS, _broker(), "text/plain"),
    ("xml", "POST", BROKERS, b"<broker/>", "application/xml"),
    (
        "protobuf",
        "POST",
        CONFIGMAPS,
        b"k8s\x00\n\x0f\n\x02v1\x12\tConfigMap",
        ("application/vnd.kubernetes.protobuf"),
    ),
    ("form", "POST", BROKERS, b"a=b", "application/x-www-form-urlencoded"),
    ("bad yaml", "POST", BROKERS, b"a: [b", "application/yaml"),
    ("yaml list", "POST", BROKERS, b"- a\n- b\n", "application/yaml"),
    (
        "missing namespace",
        "POST",
        "/apis/eventing.knative.dev/v1/namespaces/nope/brokers",
        _broker(metadata={"name": "x"}),
        JSON,
    ),
    (
        "unknown resource",
        "POST",
        "/apis/eventing.knative.dev/v1/namespaces/default/nopes",
        _broker(),
        JSON,
    ),
    ("unknown group", "GET", "/apis/nope.example.com/v1/things", None, None),
    # replaces
    ("put name mismatch", "PUT", BROKER, _broker(metadata={"name": "other"}), JSON),
    ("put not json", "PUT", BROKER, b"}", JSON),
    ("put stale", "PUT", BROKER, _broker(metadata={"name": "fuzz", "resourceVersion": "1"}), JSON),
    # patches of every type
    ("merge not json", "PATCH", BROKER, b"{", MERGE),
    ("merge makes spec a list", "PATCH", BROKER, b'{"spec": [1]}', MERGE),
    ("merge renames", "PATCH", BROKER, b'{"metadata": {"name": "renamed"}}', MERGE),
    ("merge changes kind", "PATCH", BROKER, b'{"kind": "Trigger"}', MERGE),
    ("json patch an object", "PATCH", BROKER, b'{"op": "add"}', JSON_PATCH),
    ("json patch bad op", "PATCH", BROKER, b'[{"op": "frobnicate", "path": "/spec"}]', JSON_PATCH),
    ("json patch no path", "PATCH", BROKER, b'[{"op": "add", "value": 1}]', JSON_PATCH),
    (
        "json patch bad path",
        "PATCH",
        BROKER,
        b'[{"op": "replace", "path": "/no/such", "value": 1}]',
        JSON_PATCH,
    ),
    (
        "json patch bad index",
        "PATCH",
        BROKER,
        b'[{"op": "add", "path": "/metadata/finalizers/99", "value": "x"}]',
        JSON_PATCH,
    ),
    ("json patch remove root", "PATCH", BROKER, b'[{"op": "remove", "path": ""}]', JSON_PATCH),
    ("json patch items not objects", "PATCH", BROKER, b"[1, 2]", JSON_PATCH),
    (
        "json patch failed test",
        "PATCH",
        BROKER,
        b'[{"op": "test", "path": "/metadata/name", "value": "other"}]',
        JSON_PATCH,
    ),
    ("strategic on custom kind", "PATCH", BROKER, b'{"spec": {}}', STRATEGIC),
    ("strategic not json", "PATCH", CONFIGMAP, b"{", STRATEGIC),
    ("strategic data a list", "PATCH", CONFIGMAP, b'{"data": [1]}', STRATEGIC),
    (
        "strategic delete bad key",
        "PATCH",
        CONFIGMAP,
        b'{"metadata": {"$deleteFromPrimitiveList/finalizers": 7}}',
        STRATEGIC,
    ),
    ("apply bad yaml", "PATCH", BROKER, b"spec: [", APPLY),
    ("apply a list", "PATCH", BROKER, b"- 1\n", APPLY),
    ("unknown patch type", "PATCH", BROKER, b"{}", "application/x-patch"),
    ("patch missing object", "PATCH", f"{BROKERS}/missing", b"{}", MERGE),
    # reads
    ("bad label selector", "GET", f"{BROKERS}?labelSelector=a%20in%20(", None, None),
    ("bad label selector op", "GET", f"{BROKERS}?labelSelector=a%3D%3D%3Db", None, None),
    ("bad field selector", "GET", f"{BROKERS}?fieldSelector=%3Da", None, None),
    ("bad limit", "GET", f"{BROKERS}?limit=abc", None, None),
    ("negative limit", "GET", f"{BROKERS}?limit=-1", None, None),
    ("garbage continue", "GET", f"{BROKERS}?limit=1&continue=%%%", None, None),
    (
        "continue not a list",
        "GET",
        f"{BROKERS}?limit=1&continue={base64.urlsafe_b64encode(b'{}').decode()}",
        None,
        None,
    ),
    ("continue not base64", "GET", f"{BROKERS}?limit=1&continue=not-a-token!", None, None),
    ("bad watch version", "GET", f"{BROKERS}?watch=1&resourceVersion=abc", None, None),
    ("bad timeout", "GET", f"{BROKERS}?watch=1&timeoutSeconds=-5", None, None),
    ("get missing", "GET", f"{BROKERS}/missing", None, None),
    ("bad subresource", "GET", f"{BROKER}/nope", None, None),
    # deletes
    ("delete options not json", "DELETE", BROKER, b"{nope", JSON),
    ("delete bad precondition", "DELETE", BROKER, b'{"preconditions": {"uid": "other"}}', JSON),
    ("delete missing", "DELETE", f"{BROKERS}/missing", None, None),
    ("method", "OPTIONS", BROKERS, None, None),
]


def _is_status(resp: Response) -> bool:
    body = resp.json()
    return bool(
        body.get("kind") == "Status"
        and body.get("apiVersion") == "v1"
        and body.get("status") == "Failure"
        and body.get("code") == resp.status
        and body.get("message")
    )


@pytest.fixture(scope="module")
def fixtures(api: Api) -> tuple[bytes, bytes]:
    api.call("POST", BROKERS, orjson.loads(_broker(metadata={"name": "fuzz"})))
    api.call(
        "POST",
        CONFIGMAPS,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fuzz"}, "data": {"a": "1"}},
    )
    return api.request("GET", BROKER).body, api.request("GET", CONFIGMAP).body


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "content_type"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_input_gets_a_4xx_status(
    api: Api,
    fixtures: tuple[bytes, bytes],
    name: str,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str | None,
) -> None:
    resp = api.request(method, path, body, content_type)
    assert 400 <= resp.status < 500, (name, resp.status, resp.body[:500])
    assert _is_status(resp), (name, resp.body[:500])
    # nothing stored changed
    assert api.request("GET", BROKER).body == fixtures[0]
    assert api.request("GET", CONFIGMAP).body == fixtures[1]
    assert api.request("GET", f"{BROKERS}/fuzz-new").status == 404


def test_huge_body_is_refused(api: Api, fixtures: tuple[bytes, bytes]) -> None:
    huge = _broker(spec={"padding": "x" * (20 * 1024 * 1024)})
    resp = api.request("POST", BROKERS, huge, JSON, timeout=60)
    assert resp.status == 413, (resp.status, resp.body[:500])
    assert _is_status(resp)
    assert api.request("GET", BROKER).body == fixtures[0]


def test_requests_without_a_valid_token_get_401(api: Api) -> None:
    for token in ("", "wrong"):
        resp = api.request("GET", BROKERS, token=token)
        assert resp.status == 401
        assert _is_status(resp)
