"""The one error table: every error class the API reports, with its HTTP status and
Kubernetes reason, seen through real HTTP requests (kubectl reads ``code``, ``reason``,
``message`` and ``details.causes``).

First each row of the table, raised by a subresource handler; then the errors kawa's own
handlers raise on real mistakes, each reported by its class and not by its message.
"""

from __future__ import annotations

from typing import Any, Final

import aiohttp
import orjson
import pytest
from aiohttp import web

from kawa.apiserver import status
from kawa.apiserver.protobuf import UnsupportedKind
from kawa.apiserver.requests import Target
from kawa.apiserver.status import (
    RequestEntityTooLargeError,
    RequestTimeoutError,
    TooLargeResourceVersionError,
    UnsupportedMediaTypeError,
)
from kawa.errors import (
    AlreadyExistsError,
    BadGatewayError,
    ConflictError,
    FieldError,
    ForbiddenError,
    GoneError,
    InsufficientStorageError,
    KawaError,
    MethodNotAllowedError,
    NotFoundError,
    PermanentError,
    TemporaryError,
    UnauthorizedError,
    ValidationError,
)
from kawa.store.base import ResourceKey

from .api_support import Api, serving

CM: Final = "/api/v1/namespaces/default/configmaps"
FAIL: Final = "/api/v1/namespaces/default/pods/p/fail"

TABLE: Final[dict[type[KawaError], tuple[int, str]]] = {
    ValidationError: (422, "Invalid"),
    UnauthorizedError: (401, "Unauthorized"),
    BadGatewayError: (502, "InternalError"),
    ForbiddenError: (403, "Forbidden"),
    NotFoundError: (404, "NotFound"),
    MethodNotAllowedError: (405, "MethodNotAllowed"),
    AlreadyExistsError: (409, "AlreadyExists"),
    ConflictError: (409, "Conflict"),
    GoneError: (410, "Expired"),
    RequestEntityTooLargeError: (413, "RequestEntityTooLarge"),
    RequestTimeoutError: (408, "Timeout"),
    UnsupportedMediaTypeError: (415, "UnsupportedMediaType"),
    InsufficientStorageError: (507, "InsufficientStorage"),
    TooLargeResourceVersionError: (504, "Timeout"),
    KawaError: (503, "ServiceUnavailable"),
}
"""What kubectl and the Kubernetes clients expect of each class."""

INHERITED: Final[dict[type[KawaError], tuple[int, str]]] = {
    TemporaryError: (503, "ServiceUnavailable"),
    PermanentError: (503, "ServiceUnavailable"),
    UnsupportedKind: (415, "UnsupportedMediaType"),
}
"""Classes without a row of their own answer as their nearest ancestor."""


def configmap(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}


def instance(cls: type[KawaError]) -> KawaError:
    if issubclass(cls, ValidationError):
        return cls([FieldError("spec.x", "bad")], subject="Pod default/p")
    if cls is TooLargeResourceVersionError:
        return TooLargeResourceVersionError(9, 3)
    return cls(f"a {cls.__name__}")


def test_the_table_has_a_row_for_each_class() -> None:
    assert {cls: (r.code, r.reason) for cls, r in status.ERRORS.items()} == TABLE


@pytest.mark.parametrize("cls", [*TABLE, *INHERITED], ids=lambda cls: cls.__name__)
async def test_each_class_is_its_status(cls: type[KawaError]) -> None:
    error = instance(cls)

    async def fail(request: web.Request, target: Target) -> web.StreamResponse:
        raise error

    async with serving(subresources={("pods", "fail"): fail}) as api:
        code, body = await api.call("GET", FAIL)
    assert (code, body["reason"]) == {**TABLE, **INHERITED}[cls]
    assert body["code"] == code
    assert (body["kind"], body["apiVersion"], body["status"]) == ("Status", "v1", "Failure")
    assert body["message"] == str(error)
    if cls is ValidationError:  # an invalid object names the object and each field
        assert body["details"] == {
            "name": "p",
            "kind": "Pod",
            "causes": [{"reason": "FieldValueInvalid", "message": "bad", "field": "spec.x"}],
        }
    elif cls is TooLargeResourceVersionError:  # what client-go's reflector looks for
        assert body["message"] == "Timeout: Too large resource version: 9, current: 3"
        assert body["details"] == {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        }
    else:
        assert "details" not in body


async def test_a_validation_error_without_fields_is_a_bad_request() -> None:
    async def fail(request: web.Request, target: Target) -> web.StreamResponse:
        raise ValidationError.single("", "the request is malformed")

    async with serving(subresources={("pods", "fail"): fail}) as api:
        code, body = await api.call("GET", FAIL)
    assert (code, body["reason"], body["code"]) == (400, "BadRequest", 400)
    assert "details" not in body


# -- what kawa's handlers raise -----------------------------------------------------------


async def expect(api: Api, want: tuple[int, str], method: str, path: str, *args: Any) -> Any:
    code, body = await api.call(method, path, *args)
    assert (code, body["reason"], body["code"]) == (*want, code), body
    return body


async def test_what_the_handlers_raise() -> None:
    async with serving() as api:
        body = await expect(api, (422, "Invalid"), "POST", CM, configmap("Bad_Name"))
        assert body["details"]["kind"] == "ConfigMap"
        assert [c["field"] for c in body["details"]["causes"]] == ["metadata.name"]
        await expect(api, (400, "BadRequest"), "POST", CM, b"{not json", JSON_TYPE)
        await expect(api, (415, "UnsupportedMediaType"), "POST", CM, b"x", TEXT_TYPE)
        await expect(api, (404, "NotFound"), "GET", f"{CM}/missing")
        await expect(api, (404, "NotFound"), "GET", "/api/v1/namespaces/default/nothings")
        await expect(api, (405, "MethodNotAllowed"), "POST", "/api/v1")
        await expect(api, (405, "MethodNotAllowed"), "PUT", CM)
        await expect(api, (403, "Forbidden"), "DELETE", "/api/v1/namespaces/default")
        assert (await api.call("POST", CM, configmap("c")))[0] == 201
        body = await expect(api, (409, "AlreadyExists"), "POST", CM, configmap("c"))
        assert "already exists" in body["message"]
        stale = configmap("c", metadata={"name": "c", "resourceVersion": "1"})
        await expect(api, (409, "Conflict"), "PUT", f"{CM}/c", stale)
        patch = {"metadata": {"labels": {"a": "b"}}}
        strategic = {"Content-Type": "application/strategic-merge-patch+json"}
        brokers = "/apis/eventing.knative.dev/v1/namespaces/default/brokers"
        await expect(api, (404, "NotFound"), "PATCH", f"{brokers}/b", patch, strategic)
        broker = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker"}
        assert (await api.call("POST", brokers, dict(broker, metadata={"name": "b"})))[0] == 201
        await expect(api, (415, "UnsupportedMediaType"), "PATCH", f"{brokers}/b", patch, strategic)


JSON_TYPE: Final = {"Content-Type": "application/json"}
TEXT_TYPE: Final = {"Content-Type": "text/plain"}


async def test_a_full_store_answers_507_and_serves_again_once_there_is_room() -> None:
    """Before: 500 ``cannot rollback - no transaction is active`` (SQLite had rolled back the
    failed write already, and the store's ROLLBACK hid the real error)."""
    async with serving(store_max_size=256 * 1024) as api:
        for n in range(1000):
            code, body = await api.call("POST", CM, configmap(f"c{n}", data={"k": "x" * 2000}))
            if code != 201:
                break
        assert (code, body["reason"]) == (507, "InsufficientStorage"), body
        assert body["message"].startswith(f"cannot store configmaps default/c{n}: the resource")
        assert "the resource store is full (database or disk is full" in body["message"]
        assert "writes work again as soon as there is room, without a restart" in body["message"]
        assert (await api.call("GET", f"{CM}/c{n}"))[0] == 404  # nothing half-written
        assert (await api.call("GET", f"{CM}/c0"))[0] == 200  # reads go on

        for i in range(10):  # deleting works on a full store ...
            assert (await api.call("DELETE", f"{CM}/c{i}"))[0] == 200
        created = await api.call("POST", CM, configmap("again", data={"k": "x" * 2000}))
        assert created[0] == 201, created[1]  # ... and makes room: no restart


async def test_a_body_over_the_limit() -> None:
    async with serving(client_max_size=1024) as api:
        big = configmap("big", data={"a": "x" * 4096})
        await expect(api, (413, "RequestEntityTooLarge"), "POST", CM, big)


async def test_a_request_without_the_token() -> None:
    async with serving(token="secret") as api:
        await expect(api, (401, "Unauthorized"), "GET", CM)
        code, _ = await api.call("GET", CM, None, {"Authorization": "Bearer secret"})
        assert code == 200


async def test_a_watch_from_a_forgotten_version_ends_with_expired() -> None:
    async with serving(history=10) as api:
        key = ResourceKey("configmaps", "default", "c")
        await api.store.create(key, configmap("c"))
        for n in range(1000):  # the store compacts its history every 1000 changes
            await api.store.update(key, configmap("c", data={"n": str(n)}))
        watch = f"{api.url}{CM}?watch=1&resourceVersion=1&timeoutSeconds=5"
        async with api.client.get(watch, timeout=aiohttp.ClientTimeout(total=10)) as resp:
            assert resp.status == 200
            (line,) = [orjson.loads(raw) async for raw in resp.content if raw.strip()]
    assert line["type"] == "ERROR"
    assert (line["object"]["code"], line["object"]["reason"]) == (410, "Expired")
    assert line["object"]["kind"] == "Status"
