"""Stand-ins for the two images of Knative's odd/even Parallel example, which kawa does not
ship: ``villardl/filter-nodejs`` and ``villardl/transformer-nodejs`` (Node.js functions that
evaluate a JavaScript expression from ``$FILTER`` / ``$TRANSFORMER`` on each CloudEvent).

The flows tests map those images to this script with ``knative-serving/config-kawa-images``
(``python js_functions.py filter`` or ``... transformer``). It is a CloudEvents receiver on
``$PORT`` (binary or structured mode) that evaluates the small part of JavaScript the
documented expressions use (``Math.round``, ``Date.parse``, ``event.<attribute>``,
``===``/``!==``, ``%``, object literals) as a Python expression:

- ``filter``: the expression true -> ``200`` with the event unchanged (binary mode), so the
  Parallel's filter Subscription passes it to its branch; false -> ``202`` with no event;
- ``transformer``: ``200`` with the event, its data replaced by the expression's value as JSON.

Standard library only: it runs as a container's program, outside the test process.
"""

from __future__ import annotations

import json
import math
import os
import sys
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any


class _Math:
    @staticmethod
    def round(x: float) -> int:
        return math.floor(x + 0.5)  # JavaScript rounds halves up


class _Date:
    @staticmethod
    def parse(text: str) -> float:
        """Milliseconds since the epoch, as ``Date.parse``."""
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def evaluate(expression: str, attributes: dict[str, Any]) -> Any:
    python = expression.strip().replace("===", "==").replace("!==", "!=")
    names = {"Math": _Math, "Date": _Date, "event": SimpleNamespace(**attributes)}
    return eval(python, {"__builtins__": {}}, names)  # a test fixture's own input


def _read_event(handler: BaseHTTPRequestHandler) -> tuple[dict[str, Any], bytes]:
    """``(attributes, data)`` of the request's CloudEvent."""
    body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    content_type = handler.headers.get("Content-Type") or ""
    if content_type.startswith("application/cloudevents+json"):
        structured: dict[str, Any] = json.loads(body)
        data = structured.pop("data", None)
        raw = b"" if data is None else json.dumps(data).encode()
        return structured, raw
    attributes = {
        k.lower()[3:]: v for k, v in handler.headers.items() if k.lower().startswith("ce-")
    }
    if content_type:
        attributes["datacontenttype"] = content_type
    return attributes, body


def _reply(handler: BaseHTTPRequestHandler, attributes: dict[str, Any], data: bytes) -> None:
    handler.send_response(200)
    for name, value in attributes.items():
        if name == "datacontenttype":
            handler.send_header("Content-Type", str(value))
        else:
            handler.send_header(f"ce-{name}", str(value))
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def main(role: str) -> None:
    expression = os.environ["FILTER" if role == "filter" else "TRANSFORMER"]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            attributes, data = _read_event(self)
            result = evaluate(expression, attributes)
            print(f"{role}: {attributes.get('id')} -> {result!r}", flush=True)
            if role == "transformer":
                attributes["datacontenttype"] = "application/json"
                _reply(self, attributes, json.dumps(result).encode())
            elif result:
                _reply(self, attributes, data)
            else:
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    host = os.environ.get("KAWA_LISTEN_HOST") or os.environ.get("KAWA_POD_IP") or "127.0.0.1"
    server = ThreadingHTTPServer((host, int(os.environ.get("PORT", "8080"))), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
