"""A watch of the API (``GET <list>?watch=true``) read in a thread of the test: every event
it gets, as (type, object), kept in arrival order.

It opens the stream itself (urllib, the node's token) so that a test can count the events a
node's API gives while the test drives other nodes; :meth:`ApiWatch.close` ends it. Used by
``test_e2e_leader.py`` (controller actions counted across a leader change) and
``test_e2e_three_nodes.py`` (changes made through one node seen by another's watch).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Callable
from typing import Any

import orjson

from ..waiting import wait_until
from .e2e_support import KawaProcess

Event = tuple[str, dict[str, Any]]


class ApiWatch:
    """``GET path?watch=true`` on ``kawa``, read until :meth:`close`."""

    def __init__(self, kawa: KawaProcess, path: str) -> None:
        token = (kawa.data_dir / "token").read_text().strip()
        self._conn = http.client.HTTPConnection(kawa.host, kawa.port, timeout=60)
        sep = "&" if "?" in path else "?"
        self._conn.request(
            "GET", f"{path}{sep}watch=true", headers={"Authorization": f"Bearer {token}"}
        )
        response = self._conn.getresponse()
        if self._conn.sock is not None:
            self._conn.sock.settimeout(None)  # a watch may be quiet for long
        if response.status != 200:
            raise AssertionError(f"watch {path}: {response.status} {response.read()!r}")
        self._response = response
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._closing = False
        self.error: Exception | None = None
        """What ended the stream before :meth:`close`, if anything did."""
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._response:
                if line.strip():
                    event = orjson.loads(line)
                    with self._lock:
                        self._events.append((str(event["type"]), event["object"]))
        except Exception as err:  # a stream cut by close() ends in any of them
            if not self._closing:
                self.error = err

    @property
    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def wait(self, match: Callable[[Event], bool], message: str, timeout: float = 20.0) -> Event:
        """The first event that ``match`` accepts, once it came."""

        def found() -> Event | None:
            return next((e for e in self.events if match(e)), None)

        return wait_until(found, timeout, message)

    def close(self) -> None:
        self._closing = True
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()
        self._thread.join(5)
