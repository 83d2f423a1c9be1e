"""Encoding a Swagger 2.0 document as gnostic's ``openapi.v2.Document`` protobuf.

kubectl (client-go's ``OpenAPISchema``) asks ``/openapi/v2`` for this encoding only and
decodes the answer with gnostic's generated code (``github.com/google/gnostic-models``,
``openapiv2/OpenAPIv2.proto``). This writes the part of that message set kawa's documents
use: ``Document`` (swagger, info, paths, definitions), ``PathItem`` and ``Operation``
(parameters: body and query; responses; vendor extensions), and ``Schema`` (the JSON Schema
keywords, ``properties``, ``items``, ``additionalProperties``, ``allOf``, vendor extensions).
Values without a message of their own (``default``, ``enum``, ``example``, every
``x-...`` extension) are gnostic ``Any`` messages carrying the value as YAML (JSON text is
YAML). Keys the message set has no field for are left out. Pure.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

_VARINT, _FIXED64, _BYTES = 0, 1, 2


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # negative int64 values are ten bytes, as protobuf writes them
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _delimited(number: int, data: bytes) -> bytes:
    return _key(number, _BYTES) + _varint(len(data)) + data


def _string(number: int, value: Any) -> bytes:
    text = str(value) if value is not None else ""
    return _delimited(number, text.encode()) if text else b""


def _strings(number: int, values: Iterable[Any]) -> bytes:
    return b"".join(_delimited(number, str(v).encode()) for v in values)


def _bool(number: int, value: Any) -> bytes:
    return _key(number, _VARINT) + b"\x01" if value else b""


def _int(number: int, value: Any) -> bytes:
    return _key(number, _VARINT) + _varint(int(value)) if value else b""


def _double(number: int, value: Any) -> bytes:
    return _key(number, _FIXED64) + struct.pack("<d", float(value)) if value else b""


def _any(value: Any) -> bytes:
    """gnostic ``Any``: the value as YAML (field 2)."""
    return _string(2, orjson.dumps(value).decode())


def _extensions(number: int, obj: Mapping[str, Any]) -> bytes:
    """``repeated NamedAny``: every ``x-...`` key of ``obj``."""
    return b"".join(
        _delimited(number, _string(1, name) + _delimited(2, _any(value)))
        for name, value in obj.items()
        if name.startswith("x-")
    )


def schema(obj: Mapping[str, Any]) -> bytes:
    """gnostic ``Schema``."""
    out = [
        _string(1, obj.get("$ref")),
        _string(2, obj.get("format")),
        _string(3, obj.get("title")),
        _string(4, obj.get("description")),
    ]
    if "default" in obj:
        out.append(_delimited(5, _any(obj["default"])))
    out += [
        _double(6, obj.get("multipleOf")),
        _double(7, obj.get("maximum")),
        _bool(8, obj.get("exclusiveMaximum")),
        _double(9, obj.get("minimum")),
        _bool(10, obj.get("exclusiveMinimum")),
        _int(11, obj.get("maxLength")),
        _int(12, obj.get("minLength")),
        _string(13, obj.get("pattern")),
        _int(14, obj.get("maxItems")),
        _int(15, obj.get("minItems")),
        _bool(16, obj.get("uniqueItems")),
        _int(17, obj.get("maxProperties")),
        _int(18, obj.get("minProperties")),
        _strings(19, obj.get("required") or ()),
    ]
    out += [_delimited(20, _any(v)) for v in obj.get("enum") or ()]
    extra = obj.get("additionalProperties")
    if isinstance(extra, Mapping):
        out.append(_delimited(21, _delimited(1, schema(extra))))
    elif isinstance(extra, bool):
        out.append(_delimited(21, _key(2, _VARINT) + (b"\x01" if extra else b"\x00")))
    if obj.get("type"):
        out.append(_delimited(22, _strings(1, [obj["type"]])))
    if isinstance(obj.get("items"), Mapping):
        out.append(_delimited(23, _delimited(1, schema(obj["items"]))))
    out += [_delimited(24, schema(sub)) for sub in obj.get("allOf") or ()]
    if "properties" in obj:
        named = b"".join(
            _delimited(1, _string(1, name) + _delimited(2, schema(sub)))
            for name, sub in obj["properties"].items()
        )
        out.append(_delimited(25, named))
    out.append(_bool(27, obj.get("readOnly")))
    if "example" in obj:
        out.append(_delimited(30, _any(obj["example"])))
    out.append(_extensions(31, obj))
    return b"".join(out)


def _parameter(param: Mapping[str, Any]) -> bytes:
    """``ParametersItem``: a body parameter or a query/path one."""
    if param.get("in") == "body":
        body = b"".join(
            [
                _string(1, param.get("description")),
                _string(2, param.get("name")),
                _string(3, "body"),
                _bool(4, param.get("required")),
                _delimited(5, schema(param.get("schema") or {})),
            ]
        )
        return _delimited(1, _delimited(1, body))
    where = param.get("in")
    if where == "path":
        sub = b"".join(
            [
                _bool(1, param.get("required")),
                _string(2, "path"),
                _string(3, param.get("description")),
                _string(4, param.get("name")),
                _string(5, param.get("type")),
            ]
        )
        non_body = _delimited(4, sub)
    else:
        sub = b"".join(
            [
                _bool(1, param.get("required")),
                _string(2, where or "query"),
                _string(3, param.get("description")),
                _string(4, param.get("name")),
                _string(6, param.get("type")),
                _bool(20, param.get("uniqueItems")),
            ]
        )
        non_body = _delimited(3, sub)
    return _delimited(1, _delimited(2, non_body))


def _responses(responses: Mapping[str, Any]) -> bytes:
    out = []
    for code, response in responses.items():
        body = _string(1, response.get("description"))
        if isinstance(response.get("schema"), Mapping):
            body += _delimited(2, _delimited(1, schema(response["schema"])))
        value = _delimited(1, body)  # ResponseValue.response
        out.append(_delimited(1, _string(1, code) + _delimited(2, value)))
    return b"".join(out)


def _operation(op: Mapping[str, Any]) -> bytes:
    return b"".join(
        [
            _strings(1, op.get("tags") or ()),
            _string(2, op.get("summary")),
            _string(3, op.get("description")),
            _string(5, op.get("operationId")),
            _strings(6, op.get("produces") or ()),
            _strings(7, op.get("consumes") or ()),
            b"".join(_delimited(8, _parameter(p)) for p in op.get("parameters") or ()),
            _delimited(9, _responses(op.get("responses") or {})),
            _extensions(13, op),
        ]
    )


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: Mapping[str, Any]) -> bytes:
    return b"".join(
        _delimited(number, _operation(item[method]))
        for method, number in _METHODS.items()
        if method in item
    )


def encode_document(doc: Mapping[str, Any]) -> bytes:
    """gnostic ``Document`` of a Swagger 2.0 document (a dict)."""
    info = doc.get("info") or {}
    paths = b"".join(
        _delimited(2, _string(1, path) + _delimited(2, _path_item(item)))
        for path, item in (doc.get("paths") or {}).items()
    )
    definitions = b"".join(
        _delimited(1, _string(1, name) + _delimited(2, schema(sub)))
        for name, sub in (doc.get("definitions") or {}).items()
    )
    return b"".join(
        [
            _string(1, doc.get("swagger", "2.0")),
            _delimited(2, _string(1, info.get("title")) + _string(2, info.get("version"))),
            _delimited(8, paths),
            _delimited(9, definitions),
            _extensions(16, doc),
        ]
    )
