"""A child process's death signal: the signal Linux sends it when its parent dies.

Called in a child between fork and exec (``preexec_fn``) by kawa's kubelet (its containers
get SIGKILL) and by the ``kawa up --workers`` supervisor (its workers get SIGTERM), so that
nothing kawa started outlives it. ``prctl(PR_SET_PDEATHSIG)`` through libc; where there is
none (not Linux), :func:`arm` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from typing import Final

PR_SET_PDEATHSIG: Final = 1


def _load_prctl() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl: Callable[..., int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL: Final = _load_prctl()


def arm(signal_number: int) -> None:
    """Have this process get ``signal_number`` when its parent dies (Linux only)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal_number, 0, 0, 0)
