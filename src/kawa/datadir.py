"""The names of what kawa keeps in its data dir, and no I/O: the CLI's client commands read
them without importing the server (``kawa get`` starts in a fraction of ``kawa up``'s
import time)."""

from __future__ import annotations

from typing import Final

DEFAULT_DATA_DIR: Final = ".kawa"
SERVER_FILE: Final = "server.json"
"""Where a running kawa writes its URLs and pid (read by the CLI and by workers)."""
