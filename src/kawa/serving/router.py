"""The router: which Revision a request for a Route goes to, and forwarding it over HTTP.

Knative's ingress maps a Route's hosts to Revisions by the Route's ``status.traffic``; kawa
serves every Route under one URL space on its main HTTP port,
``/serving/<namespace>/<name>/<path>``, where ``<name>`` is a Route's name (its traffic split
by percent, chosen at random per request with those weights) or ``<tag>-<route>`` (all of it
to the tagged target). :class:`RouteTable` is filled by
:class:`~kawa.serving.dataplane.ServingDataPlane` from its watch of Routes.

:func:`forward` sends a request to one instance with :class:`kawa.delivery.http11.HttpClient`
(keep-alive pool) and :func:`to_response` turns the answer into an aiohttp response.
Hop-by-hop headers (RFC 9110 section 7.6.1) are dropped both ways; ``X-Forwarded-For``,
``X-Forwarded-Host`` and ``X-Forwarded-Proto`` are added to the request. Bodies are
buffered whole (no streaming).
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from multidict import CIMultiDict

from kawa.delivery.http11 import HttpClient, Response

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
    }
)
"""Headers that are not passed on (``Host`` and ``Content-Length`` are set anew)."""


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
    base_url: str,
    path: str,
    body: bytes,
    timeout: float | None,
) -> Response:
    """Send ``request`` (its method, headers and ``body``) to ``base_url + path``."""
    return await client.request(
        request.method, base_url + path, forward_headers(request), body, timeout
    )


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


def tail_of(raw_path: str, prefix: str) -> str:
    """The path (and query) to forward: what follows ``prefix`` in ``raw_path``, ``/`` at least."""
    tail = raw_path[len(prefix) :]
    if not tail.startswith("/"):
        tail = "/" + tail
    return tail
