"""Process-wide allocator setting: large freed buffers go back to the operating system.

glibc's ``malloc`` serves a block of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB at start)
with a mapping of its own, which is unmapped when the block is freed. But by default it
*raises* that threshold to the size of every such block freed (up to 32 MiB), so once the first
large events have come and gone, the next 4 MiB payloads are carved from the heap instead, and
a heap gives memory back only from its top: after a burst of large events kawa kept the burst's
peak (about 1.7 GB after 200 events of 4 MiB, with ~40 MB of live Python objects; see
docs/performance.md). Setting the threshold explicitly turns that adjustment off, so every
payload buffer of :data:`LARGE_BLOCK` bytes or more is its own mapping and is returned when
freed.

:func:`return_large_blocks` is called once by :func:`kawa.runtime.serve`. Elsewhere than glibc
(musl's ``mallopt`` does nothing; macOS and Windows have none) it changes nothing.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Final

M_MMAP_THRESHOLD: Final = -3
"""glibc's ``mallopt`` parameter number (``<malloc.h>``)."""
LARGE_BLOCK: Final = 256 * 1024
"""Blocks of this size or more get a mapping of their own."""


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at :data:`LARGE_BLOCK`; whether the allocator took it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK) == 1)
