"""A tiny HTTP server that serving tests run as a container's command (a real process).

It listens on ``$PORT``, answers every request with ``$K_REVISION`` (the Revision it belongs
to), after sleeping ``$DELAY`` seconds (to hold concurrency), and prints one log line per
request. Standard library only, so it starts fast.
"""

from __future__ import annotations

import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = float(os.environ.get("DELAY", "0"))
REVISION = os.environ.get("K_REVISION", "unknown").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if DELAY:
            time.sleep(DELAY)  # a slow request: what the tests scale on
        self.send_response(200)
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
