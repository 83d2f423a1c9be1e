"""A real full disk for the tests of what kawa does when it is full: a small tmpfs.

``max_size`` (SQLite's ``max_page_count``) gives the very ``SQLITE_FULL`` of a full disk,
deterministically and anywhere, and most tests use it; a real disk shows in addition what
only a filesystem does (a full WAL, a checkpoint that cannot grow the database). Mounting
needs root: elsewhere the tests that use :func:`small_disk` are skipped.
Used by the event log's and the resource store's tests.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

MIB = 1024 * 1024


@contextlib.contextmanager
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs under ``tmp_path``, unmounted on exit (the test is skipped where it
    cannot be mounted)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free(path: Path) -> int:
    """Bytes free on the disk of ``path``."""
    disk = os.statvfs(path)
    return disk.f_bavail * disk.f_frsize


def fill_disk(path: Path) -> Path:
    """A file that takes every free block of the disk of ``path`` (delete it to make room)."""
    filler = path / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (MIB, 4096):
            with contextlib.suppress(OSError):
                while True:
                    f.write(bytes(chunk))
    return filler
