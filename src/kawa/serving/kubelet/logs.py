"""Container log files in the CRI format, and reading them back for ``kubectl logs``.

Each container of a Pod writes ``<data_dir>/kubelet/logs/<ns>_<pod>_<uid>/<container>.log``,
one entry per line as the CRI runtimes do: ``<RFC3339Nano> stdout|stderr F|P <text>`` (``P``
for a piece of a line longer than 16 KiB, ``F`` for the end of a line). A file that reaches
half the size limit is moved to ``<container>.log.1`` (replacing the older one), so a
container keeps at most about ``log-max-bytes`` of log. When a container restarts its
last run is kept as ``<container>.previous.log`` (and ``.previous.log.1``) for
``kubectl logs --previous``.

:class:`LogWriter` is fed by the container supervisor (:mod:`.container`);
:func:`read_entries` and :func:`render` serve the ``log`` subresource (:mod:`.log_handler`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final

from kawa import files

MAX_LINE: Final = 16 * 1024
"""Longer lines are split into partial (``P``) entries, as containerd does."""
TAIL_KEPT: Final = 20
"""Last lines kept in memory for a crashed container's termination message."""


def format_timestamp(ns: int) -> str:
    """RFC 3339 with nanoseconds, in UTC (``2024-05-01T12:00:00.123456789Z``)."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def parse_timestamp(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp (any fraction precision)."""
    head, dot, rest = text.partition(".")
    fraction = ""
    zone = rest if dot else ""
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits], rest[digits:]
    else:
        # "2024-05-01T12:00:00Z" or "...+02:00"
        for i, ch in enumerate(head[19:], start=19):
            if ch in "Zz+-":
                head, zone = head[:i], head[i:]
                break
    if zone in ("Z", "z"):
        zone = "+00:00"
    moment = datetime.fromisoformat(head + zone)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def log_dir(root: Path, namespace: str, name: str, uid: str) -> Path:
    return root / f"{namespace}_{name}_{uid}"


def log_files(directory: Path, container: str, *, previous: bool = False) -> list[Path]:
    """The files of one run of a container, oldest first."""
    base = directory / (f"{container}.previous.log" if previous else f"{container}.log")
    return [Path(f"{base}.1"), base]


class LogWriter:
    """Appends one container run's output to its log file, with size capping."""

    def __init__(self, directory: Path, container: str, max_bytes: Callable[[], int]) -> None:
        self.directory = directory
        self.container = container
        self._max_bytes = max_bytes
        self._files = log_files(directory, container)
        self._file: BinaryIO | None = None
        self._size = 0
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self.tail: deque[str] = deque(maxlen=TAIL_KEPT)
        self._waiters: list[asyncio.Future[None]] = []
        self.closed = False

    def start_run(self) -> None:
        """Begin a new run: the last one becomes ``previous``; the files are reopened."""
        files.make_dir(self.directory)
        if self._file is not None:
            self._file.close()
        previous = log_files(self.directory, self.container, previous=True)
        for src, dst in zip(self._files, previous, strict=True):
            if src.exists():
                os.replace(src, dst)
            else:
                with contextlib.suppress(FileNotFoundError):
                    dst.unlink()
        self._file = open(self._files[1], "ab", opener=files.private)  # noqa: SIM115 - kept open
        self._size = 0
        self.tail.clear()
        self.closed = False

    def feed(self, stream: str, data: bytes) -> None:
        """Output read from the process' ``stream`` (``stdout``/``stderr``)."""
        buffer = self._partial[stream] + data
        lines = buffer.split(b"\n")
        rest = lines.pop()
        for line in lines:
            start = 0
            while len(line) - start > MAX_LINE:
                self._entry(stream, line[start : start + MAX_LINE], final=False)
                start += MAX_LINE
            self._entry(stream, line[start:], final=True)
        while len(rest) >= MAX_LINE:
            self._entry(stream, rest[:MAX_LINE], final=False)
            rest = rest[MAX_LINE:]
        self._partial[stream] = rest
        self._wake()

    def close(self) -> None:
        """End of the run: flush unterminated lines, close the file, wake followers."""
        for stream, rest in self._partial.items():
            if rest:
                self._entry(stream, rest, final=True)
            self._partial[stream] = b""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.closed = True
        self._wake()

    def _entry(self, stream: str, text: bytes, *, final: bool) -> None:
        if self._file is None:
            return
        if text.endswith(b"\r"):
            text = text[:-1]
        tag = b"F" if final else b"P"
        line = b"%s %s %s %s\n" % (
            format_timestamp(time.time_ns()).encode(),
            stream.encode(),
            tag,
            text,
        )
        if self._size and self._size + len(line) > self._max_bytes() // 2:
            self._rotate()
        self._file.write(line)
        self._file.flush()
        self._size += len(line)
        if final:
            self.tail.append(text.decode("utf-8", "replace"))

    def _rotate(self) -> None:
        if self._file is not None:
            self._file.close()
        os.replace(self._files[1], self._files[0])
        self._file = open(self._files[1], "ab", opener=files.private)  # noqa: SIM115
        self._size = 0

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def changed(self, timeout: float) -> None:
        """Wait until more output is written or the run ends (at most ``timeout``)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, timeout)


@dataclass(frozen=True, slots=True)
class Entry:
    """One log line (partial entries joined): when, which stream, text without newline."""

    timestamp: str
    ns: int
    stream: str
    text: bytes


def parse_entries(data: bytes, pending: dict[str, tuple[str, bytes]]) -> Iterator[Entry]:
    """Entries in whole CRI lines of ``data``; ``pending`` joins partial lines across calls."""
    for raw in data.split(b"\n"):
        if not raw:
            continue
        parts = raw.split(b" ", 3)
        if len(parts) < 3:
            continue
        stamp, stream, tag = (p.decode("ascii", "replace") for p in parts[:3])
        text = parts[3] if len(parts) == 4 else b""
        if tag == "P":
            first, before = pending.get(stream, (stamp, b""))
            pending[stream] = (first, before + text)
            continue
        if stream in pending:
            stamp, before = pending.pop(stream)
            text = before + text
        try:
            ns = parse_timestamp(stamp)
        except ValueError:
            continue
        yield Entry(stamp, ns, stream, text)


def read_entries(files: list[Path]) -> list[Entry]:
    """Every entry of ``files`` (oldest first); missing files are skipped."""
    pending: dict[str, tuple[str, bytes]] = {}
    out: list[Entry] = []
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        end = data.rfind(b"\n") + 1
        out.extend(parse_entries(data[:end], pending))
    return out


def render(entry: Entry, *, timestamps: bool) -> bytes:
    """The bytes ``kubectl logs`` prints for one entry."""
    if timestamps:
        return b"%s %s\n" % (entry.timestamp.encode(), entry.text)
    return entry.text + b"\n"
