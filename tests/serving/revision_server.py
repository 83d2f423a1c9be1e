"""A tiny HTTP server that serving tests run as a container's command (a real process).

It listens on ``$PORT``, answers every request with ``$K_REVISION`` (the Revision it belongs
to; status ``$STATUS``, 200 by default: 202 makes it an event subscriber that replies
nothing), after sleeping ``$DELAY`` seconds (to hold concurrency), and prints one log line per
request. With ``$TRACE`` (a file path) it also appends ``start <t>`` and ``end <t>`` lines
(``time.monotonic()``, one clock for every process of the machine) around each request, so a
test measures the requests in flight across all the Revision's instances. Standard library
only, so it starts fast.
"""

from __future__ import annotations

import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = float(os.environ.get("DELAY", "0"))
REVISION = os.environ.get("K_REVISION", "unknown").encode()
TRACE = os.environ.get("TRACE")
STATUS = int(os.environ.get("STATUS", "200"))


def trace(what: str) -> None:
    """Append one line to ``$TRACE`` (an O_APPEND write of one line: whole, whatever the
    instances writing at once)."""
    if TRACE:
        fd = os.open(TRACE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{what} {time.monotonic()!r}\n".encode())
        finally:
            os.close(fd)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        trace("start")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if DELAY:
            time.sleep(DELAY)  # a slow request: what the tests scale on
        trace("end")
        self.send_response(STATUS)
        self.send_header("Content-Length", str(len(REVISION)))
        self.end_headers()
        self.wfile.write(REVISION)
        print(f"served {self.command} {self.path}", flush=True)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


if __name__ == "__main__":
    server = ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler)
    print(f"listening on {os.environ['PORT']}", file=sys.stderr, flush=True)
    server.serve_forever()
