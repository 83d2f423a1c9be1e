"""One middleware in front of kawa's HTTP port: routing by ``Host``, then the API's token.

kawa's HTTP port serves several kinds of address by ``Host`` before any path: Knative Routes,
broker and channel ingress hosts, v1 Services; what none of them takes goes to the path
routes, and those outside :data:`~kawa.apiserver.access.PUBLIC_PREFIXES` need the API token.
Each kind gives a :data:`HostHandler` and :func:`front_door` tries them in order in **one**
middleware: aiohttp wraps every middleware of an application around every request (a
coroutine and a wrapper each), and the broker ingress, the hottest route, used to pass through
five of them (docs/performance.md, issue 14's profile).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

HostHandler = Callable[[web.Request], Awaitable[web.StreamResponse] | None]
"""Given a request, the answer it takes by its ``Host`` (a coroutine to await), or ``None``
when the host is not one of its kind's."""
Guard = Callable[[web.Request], web.StreamResponse | None]
"""Given a request for the path routes, the refusal it gets (``None``: let it through)."""


def front_door(by_host: Sequence[HostHandler], guard: Guard | None = None) -> Middleware:
    """The middleware that tries ``by_host`` in order, then ``guard``, then the routes."""
    handlers = tuple(by_host)

    @web.middleware
    async def front(request: web.Request, handler: Handler) -> web.StreamResponse:
        for by in handlers:
            served = by(request)
            if served is not None:
                return await served
        if guard is not None:
            refused = guard(request)
            if refused is not None:
                return refused
        return await handler(request)

    return front
