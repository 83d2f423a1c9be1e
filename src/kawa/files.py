"""The data dir is private: every directory kawa makes is 0700, every file it writes 0600.

The data dir holds Secrets (``resources.db`` and its WAL), event payloads (``events.db``),
Pod output (``kubelet/logs``) and the API token, so nobody but kawa's user may read any of
it, whatever the umask of whoever started kawa. The modes are given per file, not through
the process umask: the umask is shared by every thread and inherited by every child process,
and kawa's Pods are child processes that expect the usual umask, as they would in a
container (see ``docs/decisions/0024-private-data-dir.md``).

- :func:`make_dir` creates a directory and its missing parents 0700;
- :func:`private` is an ``opener`` for :func:`open` that creates a file 0600
  (``open(path, "wb", opener=files.private)``); :func:`write_private` and
  :func:`create_private` build on it. SQLite gives a database's ``-wal``, ``-shm`` and
  ``-journal`` the mode of the database file, so a database created by
  :func:`create_private` keeps all of them 0600;
- :func:`tighten` takes group and other permissions away from what an older kawa left, on
  start (:mod:`kawa.runtime` logs what it changed).

Only ``os``: every layer may use it (the stores, the kubelet, the sources, the API server).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Final

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
_SHARED: Final = 0o077
"""The permission bits of group and others."""


def make_dir(path: Path) -> Path:
    """``path`` as a directory; whatever is missing of it (parents included) is created 0700
    (existing directories are left as they are)."""
    missing: list[Path] = []
    at = path
    while not at.is_dir():
        missing.append(at)
        if at.parent == at:
            break
        at = at.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            if directory.is_dir():  # made meanwhile by another thread or process
                continue
            raise
        os.chmod(directory, DIR_MODE)  # the umask may have taken owner bits away
    return path


def private(path: str | os.PathLike[str], flags: int) -> int:
    """An ``opener`` for :func:`open`: a file it creates is 0600 (never more, whatever the
    umask)."""
    return os.open(path, flags, FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (created 0600; its directory 0700 if missing)."""
    make_dir(path.parent)
    with open(path, "wb", opener=private) as f:
        f.write(data)


def create_private(path: Path) -> None:
    """Create an empty file 0600 at ``path`` unless something is there (for SQLite: its
    ``-wal`` and ``-shm`` files get the database's mode)."""
    make_dir(path.parent)
    os.close(private(path, os.O_WRONLY | os.O_CREAT))


def tighten(root: Path, patterns: Iterable[str]) -> list[Path]:
    """Take group and other permissions off ``root`` and off what its entries matching
    ``patterns`` (globs such as ``events.db*``) hold, directories with everything under them
    (symbolic links are neither changed nor followed); the paths it changed. The owner's bits
    are kept, and what kawa does not keep in ``root`` is not touched (a data dir may be a
    directory that holds other things too). ``root`` itself may be a link to a directory."""
    changed = [root] if _tighten_one(root, follow=True) else []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if _tighten_one(path):
                changed.append(path)
            if path.is_dir() and not path.is_symlink():
                for at, dirs, names in os.walk(path):
                    for name in [*dirs, *names]:
                        if _tighten_one(Path(at, name)):
                            changed.append(Path(at, name))
    return changed


def _tighten_one(path: Path, *, follow: bool = False) -> bool:
    try:
        mode = os.stat(path, follow_symlinks=follow).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(mode) or not mode & _SHARED:
        return False
    os.chmod(path, stat.S_IMODE(mode) & ~_SHARED)
    return True
