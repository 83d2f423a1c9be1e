"""/openapi/v2 as kubectl reads it: every v3 schema as a Swagger 2.0 definition, and the
gnostic protobuf encoding of the same document (read back with kawa's protobuf reader)."""

from __future__ import annotations

from typing import Any

import orjson

from kawa.apis.registry import SCHEME
from kawa.apiserver import openapi, openapi_pb, openapi_v2
from kawa.apiserver.protobuf import fields


def _message(data: bytes) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for number, _, value in fields(data):
        out.setdefault(number, []).append(value)
    return out


def test_every_v3_schema_is_a_definition() -> None:
    doc = orjson.loads(openapi_v2.document_json(SCHEME))
    for key in openapi.index(SCHEME)["paths"]:
        v3 = orjson.loads(openapi.document(SCHEME, key) or b"{}")
        assert set(v3["components"]["schemas"]) <= set(doc["definitions"])
    text = orjson.dumps(doc).decode()
    assert "#/components/" not in text
    assert '"nullable"' not in text


def test_the_protobuf_form_holds_the_document() -> None:
    doc = orjson.loads(openapi_v2.document_json(SCHEME))
    top = _message(openapi_v2.document_protobuf(SCHEME))
    assert top[1] == [b"2.0"]
    definitions = _message(top[9][0])[1]
    names = [_message(named)[1][0].decode() for named in definitions]
    assert names == list(doc["definitions"])
    broker = next(
        _message(named)[2][0]
        for named in definitions
        if _message(named)[1][0] == b"dev.knative.eventing.v1.Broker"
    )
    extensions = {
        _message(ext)[1][0].decode(): orjson.loads(_message(_message(ext)[2][0])[2][0])
        for ext in _message(broker)[31]
    }
    assert extensions["x-kubernetes-group-version-kind"] == [
        {"group": "eventing.knative.dev", "version": "v1", "kind": "Broker"}
    ]


def test_schema_encoding() -> None:
    encoded = _message(
        openapi_pb.schema(
            {
                "type": "integer",
                "minimum": 1,
                "maximum": 2.5,
                "enum": [1, 2],
                "items": {"type": "string"},
                "additionalProperties": False,
            }
        )
    )
    assert _message(encoded[22][0])[1] == [b"integer"]
    assert len(encoded[20]) == 2
    assert _message(encoded[23][0])[1]  # one items schema
    assert encoded[21] == [b"\x10\x00"]  # AdditionalPropertiesItem.boolean = false
    assert 9 in encoded  # minimum
    assert 7 in encoded  # maximum


def test_accept_picks_the_form() -> None:
    assert openapi_v2.wants_protobuf("application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
    assert not openapi_v2.wants_protobuf("application/json, */*")
    assert not openapi_v2.wants_protobuf("")
