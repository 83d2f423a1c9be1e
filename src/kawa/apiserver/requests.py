"""Reading API requests: which resource a path names, and the bodies clients send.

:func:`parse_path` turns ``/api/v1/namespaces/default/pods/busybox/log`` or
``/apis/eventing.knative.dev/v1/brokers`` into a :class:`Target` (kind, served apiVersion,
namespace, name, subresource). :func:`read_body` decodes JSON, YAML or (for a few kinds)
Kubernetes protobuf bodies into a dict with a clear error; the body is read within the
server's bounds (:func:`kawa.transport.bodies.read`, the application's ``client_max_size``).
Pure except for reading the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson
import yaml
from aiohttp import web

from kawa import nesting
from kawa.apis import manifests, meta
from kawa.apis.kinds import ResourceKind
from kawa.apis.registry import Scheme
from kawa.apiserver import protobuf_pods
from kawa.apiserver.protobuf import DECODERS, decode_object
from kawa.apiserver.status import (
    RequestEntityTooLargeError,
    RequestTimeoutError,
    UnsupportedMediaTypeError,
)
from kawa.errors import KawaError, NotFoundError, TemporaryError, ValidationError
from kawa.store.base import ResourceKey
from kawa.transport import bodies


@dataclass(frozen=True, slots=True)
class Target:
    """What an API path names."""

    kind: ResourceKind
    api_version: str
    """The apiVersion of the path (the version the client reads and writes)."""
    namespace: str | None
    """The namespace in the path; ``None`` for cluster-scoped kinds and all-namespace lists."""
    name: str | None
    subresource: str | None

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def key(self, name: str | None = None) -> ResourceKey:
        return ResourceKey(self.kind.resource, self.namespace or "", name or self.name or "")


def parse_path(scheme: Scheme, group: str, version: str, segments: list[str]) -> Target:
    """The target of ``/api/v1/<segments>`` (group ``""``) or ``/apis/<g>/<v>/<segments>``.

    Raises NotFoundError for paths that name nothing kawa serves.
    """
    api_version = f"{group}/{version}" if group else version

    def kind_of(plural: str) -> ResourceKind:
        rk = scheme.for_resource(group, version, plural)
        if rk is None:
            raise NotFoundError(
                f"the server could not find the requested resource ({plural} in {api_version})"
            )
        return rk

    if len(segments) >= 3 and segments[0] == "namespaces":
        nested = scheme.for_resource(group, version, segments[2])
        if nested is not None and nested.namespaced:
            if len(segments) > 5:
                raise NotFoundError(f"the server could not find {'/'.join(segments)}")
            name = segments[3] if len(segments) > 3 else None
            sub = segments[4] if len(segments) > 4 else None
            return Target(nested, api_version, segments[1], name, sub)
    if not segments or len(segments) > 3:
        raise NotFoundError(f"the server could not find {'/'.join(segments) or api_version}")
    rk = kind_of(segments[0])
    name = segments[1] if len(segments) > 1 else None
    sub = segments[2] if len(segments) > 2 else None
    if rk.namespaced and name is not None:
        raise NotFoundError(
            f"{rk.plural} is namespaced: use /namespaces/<namespace>/{rk.plural}/{name}"
        )
    return Target(rk, api_version, None, name, sub)


PROTOBUF = "application/vnd.kubernetes.protobuf"


async def read_body(request: web.Request) -> Any:
    """The decoded request body (JSON, or YAML for ``*yaml`` content types).

    Kubernetes protobuf (what kubectl's typed generators such as ``kubectl create namespace``
    send) is decoded by :func:`kawa.apiserver.protobuf.decode_object` for the kinds it knows.
    Other content types are refused (UnsupportedMediaTypeError, 415) before the body is read;
    a body over the server's limit is RequestEntityTooLargeError (413), one that does not
    arrive in time RequestTimeoutError (408), and one the server has no room for now a
    TemporaryError (503 with ``Retry-After``).
    """
    content_type = request.content_type
    protobuf = content_type == PROTOBUF
    if not (
        protobuf
        or content_type.endswith(("json", "yaml"))
        or content_type == "application/octet-stream"
    ):
        raise UnsupportedMediaTypeError(
            f"the body of the request was in an unknown format ({content_type}): kawa accepts "
            "application/json and application/yaml (use kubectl apply -f or kubectl create -f)"
        )
    try:
        async with bodies.read(request, request.client_max_size) as raw:
            return _decode(raw, protobuf, content_type)
    except bodies.BodyError as err:
        raise _api_error(err) from None


async def read_raw(request: web.Request) -> bytes:
    """The request body's bytes (read as :func:`read_body` reads them)."""
    try:
        async with bodies.read(request, request.client_max_size) as raw:
            return raw
    except bodies.BodyError as err:
        raise _api_error(err) from None


def _api_error(err: bodies.BodyError) -> KawaError:
    if isinstance(err, bodies.BodyTooLarge):
        return RequestEntityTooLargeError(f"the request body is too large ({err})")
    if isinstance(err, bodies.BodyTimeout):
        return RequestTimeoutError(str(err))
    return TemporaryError(str(err), delay=float(bodies.RETRY_AFTER))


_PROTOBUF_KINDS: Final = {**DECODERS, **protobuf_pods.DECODERS}
"""The kinds read in protobuf: those of kubectl's generators, and the pod-template kinds."""


def _decode(raw: bytes, protobuf: bool, content_type: str) -> Any:
    if not raw.strip():
        raise ValidationError.single("", "the request body is empty")
    if protobuf:
        body = decode_object(raw, _PROTOBUF_KINDS)
    else:
        try:
            if "yaml" in content_type:
                body = yaml.load(raw, Loader=_NoAliasLoader)
            else:
                body = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            if nesting.is_depth_error(err):
                message = f"the request body is {nesting.TOO_DEEP}"
            else:
                message = f"the request body is not valid JSON: {err}"
            raise ValidationError.single("", message) from None
        except manifests.NestedTooDeeplyError as err:
            raise ValidationError.single(err.path, nesting.TOO_DEEP) from None
        except yaml.YAMLError as err:
            message = f"the request body is not valid YAML: {err}"
            raise ValidationError.single("", message) from None
    # nothing past this point meets NaN, 65-bit integers, dates or nesting past the limit
    problems = meta.json_value_errors(body)
    if problems:
        raise ValidationError(problems)
    return body


class _NoAliasLoader(manifests.YamlLoader):
    """YAML without anchors and aliases: a few bytes of aliases can expand to millions of
    nodes ("billion laughs"); API bodies never need them. Nesting is limited and timestamps
    stay strings, as in manifests."""

    aliases = False


async def read_object(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    if not isinstance(body, dict):
        raise ValidationError.single("", "the request body must be an object")
    return body


def dry_run(request: web.Request) -> bool:
    """``?dryRun=All``: check the write, store nothing."""
    return request.query.get("dryRun") == "All"
