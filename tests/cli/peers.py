"""Real peers on loopback for the CLI's tests, each in a thread of the test process.

A :class:`Peer` listens on ``127.0.0.1`` (plain TCP, or TLS with a certificate it is given),
records every request it receives (the bytes after TLS, if the handshake finished) and
answers each connection with what its ``answer`` function returns: raw bytes, so that a test
can send what kawa never would (an HTML page, a bad status line, a truncated body), or
:data:`RESET` to abort the connection. A stranger is a Peer without kawa's certificate; a
fake kawa is a Peer with the data dir's certificate. Nothing here is a mock: the CLI opens
real sockets to them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import orjson

from kawa.apiserver import access

RESET: Final = b"<reset>"
"""An answer that aborts the connection (TCP RST) instead of answering."""
TLS_RECORD: Final = 0x16


def http_answer(
    status: int,
    body: bytes = b"",
    content_type: str = "application/json",
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    head = [f"HTTP/1.1 {status} Whatever", f"Content-Type: {content_type}"]
    head += [f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def json_answer(status: int, value: Any) -> bytes:
    return http_answer(status, orjson.dumps(value))


class Peer:
    """A listener on loopback that records what it receives and answers as told."""

    def __init__(
        self,
        answer: Callable[[bytes], bytes],
        tls: ssl.SSLContext | None = None,
        port: int = 0,
    ) -> None:
        self.answer = answer
        self.tls = tls
        self.received: list[bytes] = []
        """Per connection: what arrived (decrypted; empty when a TLS handshake failed)."""
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", port))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"peer-{self.port}")

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def everything(self) -> bytes:
        return b"".join(self.received)

    def __enter__(self) -> Peer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(10)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):  # the client refused our certificate
                self.received.append(b"")
                return
        with conn:
            request = _read_request(conn)
            self.received.append(request)
            answer = self.answer(request)
            if answer == RESET:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            with contextlib.suppress(OSError):
                conn.sendall(answer)


def _read_request(conn: socket.socket) -> bytes:
    """A request's head and body (by Content-Length), or whatever came (a TLS hello)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
            if data[0] == TLS_RECORD:  # a TLS client on a plain listener
                return data
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    except OSError:
        return data


def certificate(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A kawa certificate in ``directory`` (as ``kawa up`` makes it) and its server context."""
    cert, key = access.ensure_certificate(directory, "127.0.0.1")
    return cert, access.server_ssl_context(cert, key)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    with subprocess.Popen([sys.executable, "-c", ""]) as child:
        child.wait()
    return child.pid


def write_server_file(data_dir: Path, url: str, api_url: str, pid: int | None = None) -> None:
    """``server.json`` as ``kawa up`` writes it (by default naming this live process)."""
    info = {"url": url, "apiUrl": api_url, "pid": os.getpid() if pid is None else pid}
    (data_dir / "server.json").write_bytes(orjson.dumps(info))
