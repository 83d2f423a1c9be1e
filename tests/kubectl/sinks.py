"""Event receivers and a sender in the test process, for the kubectl tests that move events.

:class:`Sink` is a threaded HTTP server on a free loopback port that records every POST
(:class:`Received`) and answers it as its *script* says: accept (202, the default), fail the
first requests with a status (:func:`fail_first`, :func:`always_fail`), or reply with a
transformed CloudEvent (:func:`reply_transformed`), as Knative's eventshub receivers do in
its conformance features. :func:`post` sends an HTTP request as any event producer would
(no API token), optionally with another ``Host`` header.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..waiting import wait_until

TIMEOUT = 30.0
"""Generous bound of every wait (a loaded 2-core machine)."""


@dataclass(frozen=True, slots=True)
class Received:
    """One request the sink got: its headers (lower-case names) and body."""

    headers: dict[str, str]
    body: bytes

    def ce(self, name: str) -> str | None:
        """A binary-mode attribute (its ``ce-`` header)."""
        return self.headers.get(f"ce-{name}")

    def json(self) -> Any:
        return json.loads(self.body)

    def event(self) -> CloudEvent:
        """The CloudEvent of the request, in either content mode."""
        return ce_http.from_http(self.headers, self.body)

    @property
    def structured(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/cloudevents+json")


@dataclass(frozen=True, slots=True)
class Answer:
    """What the sink answers one request with."""

    status: int = 202
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


Script = Callable[[int, Received], Answer]
"""How a sink answers its ``n``-th request (counting from 0)."""


def accept(n: int, received: Received) -> Answer:
    return Answer()


def fail_first(count: float, status: int = 500, body: bytes = b"") -> Script:
    """Answer the first ``count`` requests with ``status`` (and ``body``), then accept."""

    def script(n: int, received: Received) -> Answer:
        return Answer(status, {"Content-Type": "text/plain"}, body) if n < count else Answer()

    return script


def always_fail(status: int = 500, body: bytes = b"") -> Script:
    return fail_first(math.inf, status, body)


def reply_transformed(type_: str, source: str) -> Script:
    """Reply (200) with the received event in binary mode, its ``type`` and ``source``
    changed."""

    def script(n: int, received: Received) -> Answer:
        reply = received.event().with_attributes(type=type_, source=source)
        headers, body = ce_http.to_binary(reply)
        return Answer(200, headers, body)

    return script


class Sink:
    """A threaded HTTP server on a free loopback port recording every POST and answering as
    its ``script`` says (202 by default)."""

    def __init__(self, script: Script = accept) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._answered = 0
        self.script = script
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                received = Received({k.lower(): v for k, v in self.headers.items()}, body)
                with sink._lock:
                    n = len(sink._received)
                    sink._received.append(received)
                answer = sink.script(n, received)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
                self.wfile.flush()
                with sink._lock:
                    sink._answered += 1

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def answered(self) -> int:
        """How many requests have been answered in full."""
        with self._lock:
            return self._answered

    def events(self, match: Callable[[Received], bool] = lambda _: True) -> list[Received]:
        with self._lock:
            return [r for r in self._received if match(r)]

    def wait(
        self,
        match: Callable[[Received], bool] = lambda _: True,
        count: int = 1,
        message: str = "",
        timeout: float = TIMEOUT,
    ) -> list[Received]:
        """Wait until ``count`` matching events arrived; all the matching ones."""

        def enough() -> list[Received] | None:
            found = self.events(match)
            return found if len(found) >= count else None

        found: list[Received] = wait_until(
            enough,
            timeout,
            f"{message or 'events'}: wanted {count}, got {len(self.events(match))} "
            f"(all: {[(r.ce('type'), r.ce('subject')) for r in self.events()]})",
        )
        return found

    def summary(self, match: Callable[[Received], bool]) -> list[tuple[str, str]]:
        return [(r.ce("type") or "", r.ce("subject") or "") for r in self.events(match)]


@dataclass(frozen=True, slots=True)
class Sent:
    """The answer to :func:`post`."""

    status: int
    headers: dict[str, str]
    body: bytes


def post(
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    *,
    method: str = "POST",
    host: str | None = None,
    timeout: float = TIMEOUT,
) -> Sent:
    """An HTTP request to ``url`` without any credentials (``host``: another Host header)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(str(parts.hostname), parts.port or 80, timeout=timeout)
    try:
        sent = dict(headers or {})
        if host is not None:
            sent["Host"] = host
        conn.request(method, parts.path or "/", body=body, headers=sent)
        resp = conn.getresponse()
        return Sent(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def send(url: str, event: CloudEvent, *, structured: bool = False, **extra: str) -> int:
    """POST ``event`` (binary mode unless ``structured``) with ``extra`` headers; the status."""
    headers, body = ce_http.to_structured(event) if structured else ce_http.to_binary(event)
    return post(url, {**headers, **extra}, body).status
