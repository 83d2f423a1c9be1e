"""Decoding the Kubernetes protobuf bodies that kubectl's typed generators send.

``kubectl create namespace``, ``create configmap``, ``create secret generic``, ``create
serviceaccount``, ``create service <type>``, ``create role``/``clusterrole`` and ``create
rolebinding``/``clusterrolebinding`` POST their object as
``application/vnd.kubernetes.protobuf``: the magic ``k8s\\x00`` followed by a
``runtime.Unknown`` envelope whose ``raw`` field holds the object
(``k8s.io/api/{core,rbac}/v1/generated.proto``; and the reviews of ``kubectl auth``, and
the TokenRequest of ``kubectl create token``).
:func:`decode_object` turns such a body into the JSON-shaped dict the rest of the API server
reads; called by :func:`kawa.apiserver.requests.read_body`. The kinds that embed a pod
template (Deployment, Job, CronJob) are read by :mod:`.protobuf_pods`, with these wire
helpers.

The wire reader is small and pure: varints, length-delimited fields and fixed 32/64-bit fields.
Only the kinds in :data:`DECODERS` are understood (others raise :class:`UnsupportedKind`, a
415); malformed bytes raise :class:`~kawa.errors.ValidationError`. Empty strings, empty lists
and empty maps are left out, as Kubernetes' JSON (``omitempty``) does; read-only metadata
(uid, resourceVersion, timestamps, managedFields) is ignored.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kawa.apiserver.status import UnsupportedMediaTypeError
from kawa.errors import ValidationError

MAGIC = b"k8s\x00"
"""The prefix of every Kubernetes protobuf body."""

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5

Field = tuple[int, int, int | bytes]
"""One wire field: (number, wire type, value: an int for numbers, bytes when delimited)."""


class UnsupportedKind(UnsupportedMediaTypeError):
    """A well-formed protobuf body of a kind kawa cannot decode (the server answers 415)."""


def invalid(path: str, message: str) -> ValidationError:
    """The error of a malformed body, at ``path``."""
    return ValidationError.single(path, f"the protobuf body is malformed: {message}")


def _varint(data: bytes, pos: int, path: str) -> tuple[int, int]:
    result = 0
    shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise invalid(path, "a varint runs past the end of the data")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise invalid(path, "a varint is longer than 10 bytes")


def fields(data: bytes, path: str = "") -> Iterator[Field]:
    """The fields of one protobuf message, in order; ``path`` names it in errors."""
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = _varint(data, pos, path)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise invalid(path, "field number 0")
        value: int | bytes
        if wire == _VARINT:
            value, pos = _varint(data, pos, path)
        elif wire == _BYTES:
            size, pos = _varint(data, pos, path)
            if size > end - pos:
                raise invalid(path, f"field {number} is longer than the data left")
            value = data[pos : pos + size]
            pos += size
        elif wire == _FIXED64:
            if pos + 8 > end:
                raise invalid(path, f"field {number} (fixed64) runs past the end")
            value = int.from_bytes(data[pos : pos + 8], "little")
            pos += 8
        elif wire == _FIXED32:
            if pos + 4 > end:
                raise invalid(path, f"field {number} (fixed32) runs past the end")
            value = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        else:
            raise invalid(path, f"field {number} has unsupported wire type {wire}")
        yield number, wire, value


# -- field readers ---------------------------------------------------------------------------

Reader = Callable[[int, int | bytes, str], Any]
"""Reads one wire value (wire type, value, field path) into a JSON value."""


def bytes_of(wire: int, value: int | bytes, path: str) -> bytes:
    if wire != _BYTES or not isinstance(value, bytes):
        raise invalid(path, "expected a length-delimited field")
    return value


def string(wire: int, value: int | bytes, path: str) -> str:
    try:
        return bytes_of(wire, value, path).decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(path, "a string is not valid UTF-8") from None


def _base64(wire: int, value: int | bytes, path: str) -> str:
    return base64.b64encode(bytes_of(wire, value, path)).decode("ascii")


def _bool(wire: int, value: int | bytes, path: str) -> bool:
    if wire != _VARINT or not isinstance(value, int):
        raise invalid(path, "expected a varint (bool)")
    return value != 0


def _integer(wire: int, value: int | bytes, path: str) -> int | str:
    """An int32/int64 varint; 0 is unset (``""``, dropped as Kubernetes' ``omitempty``)."""
    if wire != _VARINT or not isinstance(value, int):
        raise invalid(path, "expected a varint (integer)")
    if value >= 1 << 63:
        value -= 1 << 64  # a negative number, as two's complement
    return value or ""


def _set_bool(wire: int, value: int | bytes, path: str) -> bool | str:
    """A bool that is left out when false (``omitempty``)."""
    return _bool(wire, value, path) or ""


def _int_orstring(wire: int, value: int | bytes, path: str) -> int | str:
    """``intstr.IntOrString``: {1: type (0 int, 1 string), 2: intVal, 3: strVal}."""
    kind, number, text = 0, 0, ""
    for field_number, field_wire, field_value in fields(bytes_of(wire, value, path), path):
        if field_number == 1:
            kind = int(_integer(field_wire, field_value, path) or 0)
        elif field_number == 2:
            number = int(_integer(field_wire, field_value, path) or 0)
        elif field_number == 3:
            text = string(field_wire, field_value, path)
    return text if kind == 1 else number or ""


class _Message:
    """How to read one message type: field number -> (JSON name, reader, repeated)."""

    __slots__ = ("specs",)

    def __init__(self, specs: dict[int, tuple[str, Reader, bool]]) -> None:
        self.specs = specs

    def __call__(self, wire: int, value: int | bytes, path: str) -> dict[str, Any]:
        data = bytes_of(wire, value, path)
        out: dict[str, Any] = {}
        for number, field_wire, field_value in fields(data, path):
            spec = self.specs.get(number)
            if spec is None:
                continue  # a field kawa does not read (read-only metadata, newer fields)
            name, reader, repeated = spec
            sub = f"{path}.{name}" if path else name
            if repeated:
                items = out.setdefault(name, [])
                items.append(reader(field_wire, field_value, f"{sub}[{len(items)}]"))
            else:
                out[name] = reader(field_wire, field_value, sub)
        return {k: v for k, v in out.items() if v not in ("", [], {})}


def _map(value_reader: Reader) -> Reader:
    """A protobuf map: repeated entries {1: key, 2: value}; read as one JSON object."""
    entry = _Message({1: ("key", string, False), 2: ("value", value_reader, False)})

    def read(wire: int, value: int | bytes, path: str) -> tuple[str, Any]:
        pair = entry(wire, value, path)
        return pair.get("key", ""), pair.get("value", "")

    return read


def _one(name: str, reader: Reader) -> tuple[str, Reader, bool]:
    return (name, reader, False)


def _many(name: str, reader: Reader) -> tuple[str, Reader, bool]:
    return (name, reader, True)


class _MapMessage(_Message):
    """A message whose repeated map fields are gathered into JSON objects."""

    __slots__ = ("maps",)

    def __init__(self, specs: dict[int, tuple[str, Reader, bool]], maps: frozenset[str]) -> None:
        super().__init__(specs)
        self.maps = maps

    def __call__(self, wire: int, value: int | bytes, path: str) -> dict[str, Any]:
        out = super().__call__(wire, value, path)
        for name in self.maps:
            if name in out:
                out[name] = dict(out[name])
        return out


# -- apimachinery meta/v1 --------------------------------------------------------------------

_OWNER_REFERENCE = _Message(
    {
        1: _one("kind", string),
        3: _one("name", string),
        4: _one("uid", string),
        5: _one("apiVersion", string),
        6: _one("controller", _bool),
        7: _one("blockOwnerDeletion", _bool),
    }
)
_OBJECT_META = _MapMessage(
    {
        1: _one("name", string),
        2: _one("generateName", string),
        3: _one("namespace", string),
        11: _many("labels", _map(string)),
        12: _many("annotations", _map(string)),
        13: _many("ownerReferences", _OWNER_REFERENCE),
        14: _many("finalizers", string),
    },
    frozenset({"labels", "annotations"}),
)
_LABEL_SELECTOR_REQUIREMENT = _Message(
    {1: _one("key", string), 2: _one("operator", string), 3: _many("values", string)}
)
_LABEL_SELECTOR = _MapMessage(
    {
        1: _many("matchLabels", _map(string)),
        2: _many("matchExpressions", _LABEL_SELECTOR_REQUIREMENT),
    },
    frozenset({"matchLabels"}),
)

# -- core/v1 ---------------------------------------------------------------------------------

_OBJECT_REFERENCE = _Message(
    {
        1: _one("kind", string),
        2: _one("namespace", string),
        3: _one("name", string),
        4: _one("uid", string),
        5: _one("apiVersion", string),
        6: _one("resourceVersion", string),
        7: _one("fieldPath", string),
    }
)
_LOCAL_OBJECT_REFERENCE = _Message({1: _one("name", string)})
_NAMESPACE = _Message(
    {
        1: _one("metadata", _OBJECT_META),
        2: _one("spec", _Message({1: _many("finalizers", string)})),
    }
)
_CONFIG_MAP = _MapMessage(
    {
        1: _one("metadata", _OBJECT_META),
        2: _many("data", _map(string)),
        3: _many("binaryData", _map(_base64)),
        4: _one("immutable", _bool),
    },
    frozenset({"data", "binaryData"}),
)
_SECRET = _MapMessage(
    {
        1: _one("metadata", _OBJECT_META),
        2: _many("data", _map(_base64)),
        3: _one("type", string),
        4: _many("stringData", _map(string)),
        5: _one("immutable", _bool),
    },
    frozenset({"data", "stringData"}),
)
_SERVICE_ACCOUNT = _Message(
    {
        1: _one("metadata", _OBJECT_META),
        2: _many("secrets", _OBJECT_REFERENCE),
        3: _many("imagePullSecrets", _LOCAL_OBJECT_REFERENCE),
        4: _one("automountServiceAccountToken", _bool),
    }
)

# -- rbac/v1 ---------------------------------------------------------------------------------

_POLICY_RULE = _Message(
    {
        1: _many("verbs", string),
        2: _many("apiGroups", string),
        3: _many("resources", string),
        4: _many("resourceNames", string),
        5: _many("nonResourceURLs", string),
    }
)
_SUBJECT = _Message(
    {
        1: _one("kind", string),
        2: _one("apiGroup", string),
        3: _one("name", string),
        4: _one("namespace", string),
    }
)
_ROLE_REF = _Message(
    {1: _one("apiGroup", string), 2: _one("kind", string), 3: _one("name", string)}
)
_ROLE = _Message({1: _one("metadata", _OBJECT_META), 2: _many("rules", _POLICY_RULE)})
_CLUSTER_ROLE = _Message(
    {
        1: _one("metadata", _OBJECT_META),
        2: _many("rules", _POLICY_RULE),
        3: _one("aggregationRule", _Message({1: _many("clusterRoleSelectors", _LABEL_SELECTOR)})),
    }
)
_BINDING = _Message(
    {
        1: _one("metadata", _OBJECT_META),
        2: _many("subjects", _SUBJECT),
        3: _one("roleRef", _ROLE_REF),
    }
)

_SERVICE_PORT = _Message(
    {
        1: _one("name", string),
        2: _one("protocol", string),
        3: _one("port", _integer),
        4: _one("targetPort", _int_orstring),
        5: _one("nodePort", _integer),
        6: _one("appProtocol", string),
    }
)
_SERVICE = _Message(
    {
        1: _one("metadata", _OBJECT_META),
        2: _one(
            "spec",
            _MapMessage(
                {
                    1: _many("ports", _SERVICE_PORT),
                    2: _many("selector", _map(string)),
                    3: _one("clusterIP", string),
                    4: _one("type", string),
                    5: _many("externalIPs", string),
                    7: _one("sessionAffinity", string),
                    8: _one("loadBalancerIP", string),
                    9: _many("loadBalancerSourceRanges", string),
                    10: _one("externalName", string),
                    11: _one("externalTrafficPolicy", string),
                    12: _one("healthCheckNodePort", _integer),
                    13: _one("publishNotReadyAddresses", _set_bool),
                },
                frozenset({"selector"}),
            ),
        ),
    }
)

# -- authorization/v1 and authentication/v1 (the reviews kubectl auth sends) ------------------

_RESOURCE_ATTRIBUTES = _Message(
    {
        1: _one("namespace", string),
        2: _one("verb", string),
        3: _one("group", string),
        4: _one("version", string),
        5: _one("resource", string),
        6: _one("subresource", string),
        7: _one("name", string),
    }
)
_NON_RESOURCE_ATTRIBUTES = _Message({1: _one("path", string), 2: _one("verb", string)})
_EXTRA_VALUE = _Message({1: _many("items", string)})
_ACCESS_REVIEW_SPEC = _MapMessage(
    {
        1: _one("resourceAttributes", _RESOURCE_ATTRIBUTES),
        2: _one("nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES),
        3: _one("user", string),
        4: _many("groups", string),
        5: _many("extra", _map(_EXTRA_VALUE)),
        6: _one("uid", string),
    },
    frozenset({"extra"}),
)
_ACCESS_REVIEW = _Message({1: _one("metadata", _OBJECT_META), 2: _one("spec", _ACCESS_REVIEW_SPEC)})
_RULES_REVIEW = _Message(
    {1: _one("metadata", _OBJECT_META), 2: _one("spec", _Message({1: _one("namespace", string)}))}
)
_SELF_REVIEW = _Message({1: _one("metadata", _OBJECT_META)})
_BOUND_OBJECT_REFERENCE = _Message(
    {
        1: _one("kind", string),
        2: _one("apiVersion", string),
        3: _one("name", string),
        4: _one("uid", string),
    }
)
_TOKEN_REQUEST = _Message(
    {
        1: _one("metadata", _OBJECT_META),
        2: _one(
            "spec",
            _Message(
                {
                    1: _many("audiences", string),
                    3: _one("boundObjectRef", _BOUND_OBJECT_REFERENCE),
                    4: _one("expirationSeconds", _integer),
                }
            ),
        ),
    }
)
"""``kubectl create token``'s body (a ServiceAccount's ``token`` subresource)."""

_RBAC = "rbac.authorization.k8s.io/v1"
_AUTHZ = "authorization.k8s.io/v1"
DECODERS: dict[tuple[str, str], Reader] = {
    ("v1", "Namespace"): _NAMESPACE,
    ("v1", "ConfigMap"): _CONFIG_MAP,
    ("v1", "Secret"): _SECRET,
    ("v1", "ServiceAccount"): _SERVICE_ACCOUNT,
    ("v1", "Service"): _SERVICE,
    (_RBAC, "Role"): _ROLE,
    (_RBAC, "ClusterRole"): _CLUSTER_ROLE,
    (_RBAC, "RoleBinding"): _BINDING,
    (_RBAC, "ClusterRoleBinding"): _BINDING,
    (_AUTHZ, "SelfSubjectAccessReview"): _ACCESS_REVIEW,
    (_AUTHZ, "SubjectAccessReview"): _ACCESS_REVIEW,
    (_AUTHZ, "LocalSubjectAccessReview"): _ACCESS_REVIEW,
    (_AUTHZ, "SelfSubjectRulesReview"): _RULES_REVIEW,
    ("authentication.k8s.io/v1", "SelfSubjectReview"): _SELF_REVIEW,
    ("authentication.k8s.io/v1", "TokenRequest"): _TOKEN_REQUEST,
}
"""The (apiVersion, kind) pairs kawa reads in protobuf, each with its message reader."""

_TYPE_META = _Message({1: _one("apiVersion", string), 2: _one("kind", string)})
_UNKNOWN = _Message(
    {
        1: _one("typeMeta", _TYPE_META),
        2: _one("raw", bytes_of),
        3: _one("contentEncoding", string),
        4: _one("contentType", string),
    }
)


def decode_object(
    body: bytes, decoders: Mapping[tuple[str, str], Reader] = DECODERS
) -> dict[str, Any]:
    """The JSON-shaped object of a Kubernetes protobuf body (``k8s\\x00`` + runtime.Unknown).

    ``decoders`` are the kinds read (by default :data:`DECODERS`; the API server adds those
    of :mod:`kawa.apiserver.protobuf_pods`). Raises :class:`UnsupportedKind` for others and
    :class:`~kawa.errors.ValidationError` for anything malformed.
    """
    if not body.startswith(MAGIC):
        raise invalid("", "it does not start with the Kubernetes magic bytes k8s\\x00")
    envelope = _UNKNOWN(_BYTES, body[len(MAGIC) :], "")
    if envelope.get("contentEncoding"):
        raise invalid("", f"content encoding {envelope['contentEncoding']!r} is not supported")
    type_meta = envelope.get("typeMeta", {})
    api_version = type_meta.get("apiVersion", "")
    kind = type_meta.get("kind", "")
    reader = decoders.get((api_version, kind))
    if reader is None:
        known = ", ".join(sorted(k for _, k in decoders))
        raise UnsupportedKind(
            f"kawa does not read {kind or 'objects'} ({api_version or 'no apiVersion'}) "
            f"in protobuf (it does for {known}): send JSON or YAML instead, for example "
            "with kubectl apply -f or kubectl create -f"
        )
    raw = envelope.get("raw")
    if raw is None or (not raw and reader is not _SELF_REVIEW):  # a SelfSubjectReview is {}
        raise ValidationError.single("", f"the protobuf body holds no {kind} (raw is empty)")
    obj = reader(_BYTES, raw, "")
    return {"apiVersion": api_version, "kind": kind, **obj}
