"""Spare disk space for a full disk: a file kept allocated beside the event log.

On a full disk SQLite cannot even delete: a deletion writes its pages to the WAL, and the
checkpoint that would let the WAL start over needs to grow the database file. So the
writer thread of :class:`kawa.eventlog.sqlite.SqliteEventLog` keeps ``<log>.reserve``
allocated while the log is open (``posix_fallocate``, so the blocks really are taken; it
deletes the file when it closes), deletes it when a write fails with ``database or disk is
full`` (the trim of delivered events then has room), and allocates it again once the disk has
twice its size free. Only :mod:`kawa.eventlog._sqlite_writer` uses it, in its thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from kawa import files

_CHUNK = 1024 * 1024


class Reserve:
    """``size`` bytes held in the file ``path`` (nothing when ``size`` is 0)."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        self.held = False
        """Whether the file is there, at its size (as this object last saw or made it)."""

    def keep(self) -> bool:
        """Allocate the file if the disk has twice its size free; whether it is held (it
        never raises: without a reserve the log works as well, it only cannot help a full
        disk)."""
        if self.size <= 0:
            return False
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_size >= self.size:
                self.held = True
                return True
        try:
            disk = os.statvfs(self.path.parent)
            if disk.f_bavail * disk.f_frsize < 2 * self.size:
                return False
        except (OSError, AttributeError):  # no statvfs (Windows): just try
            pass
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "wb", opener=files.private) as f:
                _allocate(f.fileno(), self.size)
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            return False
        self.held = True
        return True

    def release(self) -> bool:
        """Delete the file; whether there was one to give back (it never raises)."""
        self.held = False
        try:
            self.path.unlink()
        except OSError:
            return False
        return True


def _allocate(fd: int, size: int) -> None:
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
            return
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # write it out instead
                raise
    zeros = bytes(_CHUNK)
    written = 0
    while written < size:
        written += os.write(fd, zeros[: min(_CHUNK, size - written)])
