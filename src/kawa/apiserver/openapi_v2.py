"""``/openapi/v2``: the Swagger 2.0 form of kawa's OpenAPI v3 documents, JSON or protobuf.

kubectl validates on the client what the server's OpenAPI v3 does not say it validates
itself: a kind no group-version document names (``kind: Foo`` of ``example.com/v1``) and the
items of a ``v1/List``. For those it downloads ``/openapi/v2``, asking only for gnostic's
protobuf (``application/com.github.proto-openapi.spec.v2@v1.0+protobuf``, the message
``openapi.v2.Document``) and decoding the answer as such, JSON is not accepted; without a
document it stops with ``failed to download openapi``. With one, a kind it does not find is
left to the server (``no matches for kind "Foo" in version "example.com/v1"``) and a known
kind is checked against its definition (unknown fields are errors).

The document is derived from the v3 documents (:mod:`kawa.apiserver.openapi`, themselves
from each kind's declaration): ``components.schemas`` become ``definitions`` (``$ref`` to
``#/definitions/...``; a ``metadata`` ``allOf`` becomes the ``$ref`` itself; a
``x-kubernetes-preserve-unknown-fields`` object loses its ``properties``, as Kubernetes
publishes such fields in v2, so that any content is accepted), operations keep their
parameters, body and ``x-kubernetes-group-version-kind``. :func:`document_json` is the JSON
answer, :func:`document_protobuf` the same encoded by :mod:`kawa.apiserver.openapi_pb`.
Built once per scheme.
"""

from __future__ import annotations

import functools
from typing import Any, Final

import orjson

from kawa.apis.registry import Scheme
from kawa.apiserver import openapi, openapi_pb

PROTOBUF_TYPES: Final = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)
"""The media types (current and older spelling) of the protobuf form kubectl asks for."""
PROTOBUF_CONTENT_TYPE: Final = PROTOBUF_TYPES[1]
"""The ``Content-Type`` of the protobuf answer: client-go parses it as a MIME type, which
may not hold an ``@``."""

_V3_REF: Final = "#/components/schemas/"
_V2_REF: Final = "#/definitions/"
_PRESERVE: Final = "x-kubernetes-preserve-unknown-fields"


def wants_protobuf(accept: str) -> bool:
    """Whether an ``Accept`` header asks for the protobuf form (before any JSON it lists)."""
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in PROTOBUF_TYPES:
            return True
        if media in ("application/json", "*/*", "application/*"):
            return False
    return False


def _schema(schema: Any) -> Any:
    """A v3 schema node as Swagger 2.0 has it."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            out[key] = str(value).replace(_V3_REF, _V2_REF, 1)
        elif key == "properties":
            out[key] = {name: _schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _schema(value)
        elif key == "allOf":
            out[key] = [_schema(sub) for sub in value]
        elif key in ("nullable", "oneOf", "anyOf", "not"):
            continue  # not in Swagger 2.0
        else:
            out[key] = value
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
        # a described reference (metadata): v2 keeps the description beside the $ref
        out = {"$ref": all_of[0]["$ref"], "description": out.get("description", "")}
    if out.get(_PRESERVE) and out.get("type") == "object":
        out.pop("properties", None)
        out.pop("required", None)
        out.setdefault("additionalProperties", {})
    return out


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op["operationId"],
        "produces": ["application/json", "application/yaml"],
        "x-kubernetes-action": op["x-kubernetes-action"],
        "x-kubernetes-group-version-kind": op["x-kubernetes-group-version-kind"],
    }
    parameters: list[dict[str, Any]] = []
    body = op.get("requestBody")
    if body:
        content = body["content"]
        out["consumes"] = list(content)
        schema = next(iter(content.values()))["schema"]
        parameters.append({"name": "body", "in": "body", "required": True, "schema": schema})
    for param in op.get("parameters", ()):
        parameters.append(
            {
                "name": param["name"],
                "in": param["in"],
                "type": param["schema"]["type"],
                "uniqueItems": True,
            }
        )
    out["parameters"] = [
        {**p, "schema": _schema(p["schema"])} if "schema" in p else p for p in parameters
    ]
    responses = {}
    for code, response in op["responses"].items():
        entry: dict[str, Any] = {"description": response.get("description", "")}
        content = response.get("content") or {}
        if "application/json" in content:
            entry["schema"] = _schema(content["application/json"]["schema"])
        responses[code] = entry
    out["responses"] = responses
    return out


@functools.cache
def _document(scheme: Scheme) -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for key in sorted(openapi.index(scheme)["paths"]):
        body = openapi.document(scheme, key)
        if body is None:  # pragma: no cover - every listed key has a document
            continue
        v3 = orjson.loads(body)
        for name, schema in v3["components"]["schemas"].items():
            definitions.setdefault(name, _schema(schema))
        for path, item in v3["paths"].items():
            paths[path] = {method: _operation(op) for method, op in item.items()}
    return {
        "swagger": "2.0",
        "info": {"title": "kawa", "version": "v1.32.0"},
        "paths": paths,
        "definitions": definitions,
    }


@functools.cache
def document_json(scheme: Scheme) -> bytes:
    """The Swagger 2.0 document as JSON."""
    return orjson.dumps(_document(scheme))


@functools.cache
def document_protobuf(scheme: Scheme) -> bytes:
    """The Swagger 2.0 document as gnostic's ``openapi.v2.Document`` protobuf."""
    return openapi_pb.encode_document(_document(scheme))
