"""The router: which Revision a request for a Route goes to, and forwarding it over HTTP.

Knative's ingress maps a Route's hosts to Revisions by the Route's ``status.traffic``; kawa
serves every Route under one URL space on its main HTTP port,
``/serving/<namespace>/<name>/<path>``, where ``<name>`` is a Route's name (its traffic split
by percent, chosen at random per request with those weights) or ``<tag>-<route>`` (all of it
to the tagged target). :class:`RouteTable` is filled by
:class:`~kawa.serving.dataplane.ServingDataPlane` from its watch of Routes.

:func:`forward` sends a request to one instance with :class:`kawa.transport.http11.HttpClient`
(keep-alive pool) and :func:`to_response` turns the answer into an aiohttp response.
Hop-by-hop headers (RFC 9110 section 7.6.1) are dropped both ways; ``X-Forwarded-For``,
``X-Forwarded-Host`` and ``X-Forwarded-Proto`` are added to the request. The client's ``Host``
goes through unchanged, as Knative's queue-proxy passes it to the user container (except on
``HEAD``, which gets the instance's ``127.0.0.1:<port>``). :func:`tail_of` cuts the route's
segments off the raw path (percent-encoding kept as the client sent it). Bodies are buffered
whole (no streaming).

:func:`host_route` reads a Knative host name instead (``<name>.<namespace>`` followed by
nothing, ``.svc``, ``.svc.cluster.local`` or Knative's default domain ``.example.com``), for
the data plane's Host-based routing.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from multidict import CIMultiDict

from kawa import memo
from kawa.serving.podnet import TARGET_HEADER
from kawa.transport.http11 import HttpClient, PreparedRequest, Response

HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
        "kawa-pod-target",
    }
)
"""Headers that are not passed on (``Host`` and ``Content-Length`` are set anew)."""

HOST_SUFFIXES: Final = frozenset({"svc.cluster.local", "svc", "example.com"})
"""What may follow ``<name>.<namespace>`` in a Service's host name (Knative's cluster-local
names and its default domain); nothing at all is accepted too."""

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, slots=True)
class Split:
    """Where the requests for one name go: revisions with cumulative percents."""

    revisions: tuple[str, ...]
    cumulative: tuple[int, ...]

    @classmethod
    def of(cls, targets: Iterable[tuple[str, int]]) -> Split:
        revisions: list[str] = []
        cumulative: list[int] = []
        total = 0
        for revision, percent in targets:
            if percent > 0 and revision:
                total += percent
                revisions.append(revision)
                cumulative.append(total)
        return cls(tuple(revisions), tuple(cumulative))

    def choose(self, rng: random.Random | None = None) -> str | None:
        """A revision picked with the weights of the split; None when nothing gets traffic."""
        if not self.revisions:
            return None
        if len(self.revisions) == 1:
            return self.revisions[0]
        point = (rng or random).random() * self.cumulative[-1]
        return self.revisions[bisect.bisect_right(self.cumulative, point)]


class RouteTable:
    """``(namespace, name)`` -> :class:`Split`, for Route names and ``<tag>-<route>`` names."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Split] = {}
        self._tags: dict[tuple[str, str], dict[str, Split]] = {}
        """Route key -> tagged name -> split."""
        self._tagged: dict[tuple[str, str], Split] = {}

    def set_route(self, route: Mapping[str, Any]) -> None:
        metadata = route.get("metadata") or {}
        key = (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
        status = route.get("status") or {}
        traffic = [t for t in status.get("traffic") or [] if isinstance(t, Mapping)]
        self._routes[key] = Split.of(
            (str(t.get("revisionName") or ""), _percent(t)) for t in traffic
        )
        tags: dict[str, Split] = {}
        for target in traffic:
            tag = target.get("tag")
            revision = target.get("revisionName")
            if isinstance(tag, str) and tag and isinstance(revision, str) and revision:
                tags[f"{tag}-{key[1]}"] = Split.of([(revision, 100)])
        self._replace_tags(key, tags)

    def remove_route(self, namespace: str, name: str) -> None:
        self._routes.pop((namespace, name), None)
        self._replace_tags((namespace, name), {})

    def _replace_tags(self, key: tuple[str, str], tags: dict[str, Split]) -> None:
        for old in self._tags.pop(key, {}):
            self._tagged.pop((key[0], old), None)
        if tags:
            self._tags[key] = tags
            for name, split in tags.items():
                self._tagged[(key[0], name)] = split

    def lookup(self, namespace: str, name: str) -> Split | None:
        """The split for a Route name or a ``<tag>-<route>`` name; None if neither exists."""
        found = self._routes.get((namespace, name))
        if found is None:
            found = self._tagged.get((namespace, name))
        return found


def _percent(target: Mapping[str, Any]) -> int:
    value = target.get("percent")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def forward_headers(request: web.Request) -> list[tuple[str, str]]:
    """The request's end-to-end headers plus ``X-Forwarded-*``."""
    connection_named = {
        token.strip().lower()
        for value in request.headers.getall("Connection", ())
        for token in value.split(",")
    }
    headers: list[tuple[str, str]] = []
    forwarded_for = ""
    for raw_name, raw_value in request.raw_headers:
        name = raw_name.decode("latin-1")
        lowered = name.lower()
        if lowered in HOP_BY_HOP or lowered in connection_named:
            continue
        value = raw_value.decode("latin-1")
        if lowered == "x-forwarded-for":
            forwarded_for = f"{forwarded_for}, {value}" if forwarded_for else value
            continue
        headers.append((name, value))
    remote = request.remote or ""
    if remote:
        forwarded_for = f"{forwarded_for}, {remote}" if forwarded_for else remote
    if forwarded_for:
        headers.append(("X-Forwarded-For", forwarded_for))
    host = request.headers.get("Host")
    if host and "x-forwarded-host" not in connection_named:
        headers.append(("X-Forwarded-Host", host))
    headers.append(("X-Forwarded-Proto", request.scheme))
    return headers


async def forward(
    client: HttpClient,
    request: web.Request,
    address: tuple[str, int],
    path: str,
    body: bytes,
    timeout: float | None,
    target: str | None = None,
) -> Response:
    """Send ``request`` (its method, headers, ``Host`` and ``body``) to ``address`` (a Pod's
    IP and port; with ``target``, another node's kawa, which relays it to the Pod ``target``
    names: :mod:`kawa.serving.podnet`).

    ``path`` is the path and query to send. Raises ``ValueError`` for a method, path or header
    that cannot go on the wire, and the client's errors.
    """
    headers = forward_headers(request)
    if target is not None:
        headers.append((TARGET_HEADER, target))
    method = request.method
    ip, port = address
    if method == "HEAD":
        # the client reads no body only through request(), which sets Host itself
        return await client.request(method, f"http://{ip}:{port}{path}", headers, body, timeout)
    host = next(
        (value.decode("latin-1") for name, value in request.raw_headers if name.lower() == b"host"),
        f"{ip}:{port}",
    )
    data = encode_request(method, path, host, headers, body)
    return await client.send(PreparedRequest(("http", ip, port), data), timeout)


def encode_request(
    method: str, path: str, host: str, headers: Iterable[tuple[str, str]], body: bytes
) -> bytes:
    """One HTTP/1.1 request on the wire: request line, ``Host``, ``headers``, body.

    ``Content-Length`` is added when there is a body or the method is POST, PUT or PATCH.
    Raises ``ValueError`` for an invalid method or a line break or space where none may be.
    """
    if _TOKEN.fullmatch(method) is None:
        raise ValueError(f"invalid HTTP method {method[:30]!r}")
    if not path.startswith("/") or any(c in path for c in " \r\n"):
        raise ValueError(f"invalid request path {path[:60]!r}")
    parts = [method, " ", path, " HTTP/1.1\r\nHost: ", host, "\r\n"]
    lines = 3  # request line, Host, the empty line
    for name, value in headers:
        parts += (name, ": ", value, "\r\n")
        lines += 1
    if body or method in _BODY_METHODS:
        parts.append(f"Content-Length: {len(body)}\r\n")
        lines += 1
    parts.append("\r\n")
    head = "".join(parts)
    if head.count("\n") != lines or head.count("\r") != lines:
        raise ValueError("header names and values must not contain line breaks")
    encoded = head.encode("latin-1")
    return encoded + body if body else encoded


def to_response(response: Response) -> web.Response:
    """The upstream answer as an aiohttp response (end-to-end headers and body)."""
    connection_named = {
        token.strip().lower() for token in response.headers.get("connection", "").split(",")
    }
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in response.raw_headers:
        lowered = name.lower()
        if lowered in HOP_BY_HOP or lowered in connection_named:
            continue
        headers.add(name, value)
    out = web.Response(status=response.status, headers=headers)
    if response.body:
        out.body = response.body
    return out


@memo.short_keys(1024, 255)  # few hosts, every request; no DNS name is longer
def host_route(host: str) -> tuple[str, str] | None:
    """``(namespace, name)`` named by a ``Host`` header, or None when it is no Service host name.

    ``Hello.Default.example.com:80`` gives ``("default", "hello")`` (port and a final dot
    dropped, lowercased); ``name`` may be a Route's or a ``<tag>-<route>`` name: the caller
    looks it up. ``127.0.0.1:7080`` and ``localhost`` give None.
    """
    name, _, rest = host.lower().partition(":")[0].rstrip(".").partition(".")
    namespace, _, suffix = rest.partition(".")
    if not name or not namespace or (suffix and suffix not in HOST_SUFFIXES):
        return None
    return namespace, name


def origin_form(request: web.Request) -> str:
    """The request's path and query as sent, in origin form: a proxy client's absolute-form
    target (``GET http://web.default.svc.cluster.local/a?x=1``) gives ``/a?x=1``."""
    raw = request.raw_path
    if raw.startswith("/"):
        return raw
    return request.rel_url.raw_path_qs or "/"


def tail_of(raw_path: str, segments: int = 3) -> str:
    """The path (and query) to forward: ``raw_path`` without its first ``segments`` segments.

    ``/serving/ns/ech%6F/a/b?x=1`` gives ``/a/b?x=1``: the route's segments are cut as
    segments, whatever their percent-encoding, and the rest is kept as sent; ``/`` at least.
    """
    path, question, query = raw_path.partition("?")
    parts = path.split("/", segments + 1)  # "", then the route's segments, then the rest
    tail = "/" + parts[segments + 1] if len(parts) > segments + 1 else "/"
    return tail + question + query
