"""The built-in event-display: a sink that prints every CloudEvent it receives.

Equivalent of Knative's ``event_display`` image (and the program the seed tutorial builds):
each event is printed to stdout in the current Knative format
(:func:`kawa.cloudevents.display.format_event`) and answered with 202. A request that is not
a valid CloudEvent gets 400 with the reason, and the reason is printed to stderr.
``GET /healthz`` answers 200.

It is the program kawa runs for any image named ``event_display`` / ``event-display`` (see
:mod:`kawa.images`): ``python -m kawa.serving.event_display`` listens on ``$PORT``
(default 8080). ``kawa event-display --port PORT`` runs the same server.

It is deliberately lean, because it is started on a Service's cold path: asyncio streams and
h11 (a sans-I/O HTTP/1.1 parser), no web framework, so the process is listening about 80 ms
after exec instead of 250 ms with aiohttp (measured in docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from http import HTTPStatus
from typing import Final, TextIO

import h11

from kawa.cloudevents import display
from kawa.cloudevents import http as ce_http
from kawa.errors import ValidationError

MAX_BODY: Final = 64 * 1024 * 1024
MAX_HEAD: Final = 512 * 1024
READ_SIZE: Final = 64 * 1024
_SERVER: Final = (b"server", b"kawa-event-display")


class EventDisplay:
    """Prints events to ``out`` (stdout by default); rejections go to ``err``."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout
        self._err = err if err is not None else sys.stderr
        self.received = 0

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        """The status code for one request (printing its events)."""
        if method == "GET" and path.split("?", 1)[0] == "/healthz":
            return 200
        if method != "POST":
            return 405
        try:
            events = ce_http.from_http_batch(headers, body)
        except ValidationError as err:
            print(f"event-display: rejected a request: {err}", file=self._err, flush=True)
            return 400
        for event in events:
            self.received += 1
            self._out.write(display.format_event(event))
        self._out.flush()
        return 202

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        try:
            while True:
                request = await _next_event(conn, reader)
                if not isinstance(request, h11.Request):
                    return
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
                body = bytearray()
                status = 0
                while True:
                    event = await _next_event(conn, reader)
                    if isinstance(event, h11.Data):
                        body += event.data
                        if len(body) > MAX_BODY:
                            status = 413
                            break
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    else:
                        return
                if not status:
                    status = self.handle(
                        request.method.decode("ascii"),
                        request.target.decode("latin-1"),
                        headers,
                        bytes(body),
                    )
                text = b"ok\n" if status == 200 else b""
                response = h11.Response(
                    status_code=status,
                    reason=HTTPStatus(status).phrase.encode("ascii"),
                    headers=[_SERVER, (b"content-length", str(len(text)).encode())],
                )
                writer.write(conn.send(response) + conn.send(h11.Data(data=text)))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                if status == 413 or conn.our_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (h11.RemoteProtocolError, ConnectionError):
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(READ_SIZE)
            conn.receive_data(data)
            continue
        return event


async def start(
    port: int, host: str = "127.0.0.1", display_: EventDisplay | None = None
) -> asyncio.Server:
    """A server listening on ``host:port`` (port 0: a free one); close it to stop."""
    shown = display_ if display_ is not None else EventDisplay()
    return await asyncio.start_server(shown.serve_connection, host, port, backlog=1024)


async def serve(port: int, host: str = "127.0.0.1", display_: EventDisplay | None = None) -> None:
    """Listen on ``host:port`` until cancelled."""
    server = await start(port, host, display_)
    async with server:
        await server.serve_forever()


def main() -> None:
    """``python -m kawa.serving.event_display``: listen on ``$PORT`` (all interfaces: a Pod's
    port), stop on SIGTERM."""
    raw = os.environ.get("PORT", "8080")
    try:
        port = int(raw)
    except ValueError:
        print(f"event-display: PORT must be a port number, not {raw!r}", file=sys.stderr)
        raise SystemExit(2) from None
    # the Pod's own address when the kubelet runs it (kawa.serving.kubelet.network)
    host = os.environ.get("KAWA_EVENT_DISPLAY_HOST") or os.environ.get("KAWA_POD_IP") or "127.0.0.1"

    async def run() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, _exit_now)
        await serve(port, host)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def _exit_now() -> None:
    """SIGTERM: every answered event is already printed and flushed; leave at once."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
