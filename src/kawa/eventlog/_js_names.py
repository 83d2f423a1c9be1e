"""What the JetStream event log calls things on the server, from kawa's stream and cursor names.

kawa names streams ``broker:<uid>`` and ``channel:<uid>`` and cursors
``trigger:<uid>@<stream>``; JetStream stream names, subject tokens and KV keys allow fewer
characters. :func:`token` maps any name onto ``[A-Za-z0-9_-]``, one to one: letters, digits
and ``-`` stay, every other byte of the UTF-8 name becomes ``_`` and two upper-case hex digits
(``broker:1a`` -> ``broker_3A1a``). A token longer than :data:`MAX_TOKEN` keeps its first
characters and ends in ``_h`` and a hash (``h`` is no hex digit, so no escape looks like it).

Under a ``prefix`` (``kawa`` by default, made of letters, digits and ``-``), a kawa stream is
the JetStream stream ``<prefix>_<token>`` holding subject ``<prefix>.log.<token>``; the
server republishes each stored record's headers to ``<prefix>.tick.<subject>`` (what wakes
waiters), and a stream being re-created listens on ``<prefix>.init.<token>`` until its first
seq is set. Cursors and high-water marks live in the KV bucket ``<prefix>_eventlog`` under
``c.<token>`` and ``h.<token>``. See docs/decisions/0041-jetstream-event-log.md.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from kawa.errors import ValidationError

MAX_TOKEN: Final = 160
"""Longest token kept whole (JetStream allows stream names of 255 characters)."""
_PLAIN: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_PREFIX: Final = re.compile(r"[A-Za-z0-9-]{1,32}")


@functools.lru_cache(maxsize=8192)
def token(name: str) -> str:
    """``name`` in the characters every JetStream name allows; distinct names stay distinct."""
    text = "".join(chr(b) if b in _PLAIN else f"_{b:02X}" for b in name.encode())
    if len(text) <= MAX_TOKEN:
        return text
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return f"{text[: MAX_TOKEN - 34]}_h{digest}"


def name_of(t: str) -> str | None:
    """The kawa stream name whose :func:`token` is ``t`` (``None``: a long name, hashed)."""
    if "_h" in t:
        return None
    out = bytearray()
    parts = t.split("_")
    out += parts[0].encode()
    for part in parts[1:]:
        try:
            out.append(int(part[:2], 16))
        except ValueError:
            return None
        out += part[2:].encode()
    try:
        return out.decode()
    except UnicodeDecodeError:
        return None


def check_prefix(prefix: str) -> None:
    if not _PREFIX.fullmatch(prefix):
        raise ValidationError.single(
            "prefix", f"expected 1-32 letters, digits or '-', got {prefix!r}"
        )


@dataclass(frozen=True, slots=True)
class StreamNames:
    """The server-side names of one kawa stream."""

    token: str
    stream: str
    subject: str
    init: str
    hwm_key: str


@dataclass(frozen=True, slots=True)
class Names:
    """The names a log with ``prefix`` uses (see the module docstring)."""

    prefix: str

    @property
    def bucket(self) -> str:
        return f"{self.prefix}_eventlog"

    @property
    def ticks(self) -> str:
        """The wildcard subject of every stream's ticks."""
        return f"{self.prefix}.tick.{self.prefix}.log.>"

    @property
    def tick_dest(self) -> str:
        """Where a stream republishes its records' headers (``<prefix>.tick.<subject>``)."""
        return f"{self.prefix}.tick.>"

    @property
    def subjects(self) -> str:
        """The wildcard subject of every stream's records."""
        return f"{self.prefix}.log.>"

    def of(self, stream: str) -> StreamNames:
        return _of(self, stream)

    def of_token(self, t: str) -> StreamNames:
        """The names of the stream whose token is ``t``."""
        return StreamNames(
            token=t,
            stream=f"{self.prefix}_{t}",
            subject=f"{self.prefix}.log.{t}",
            init=f"{self.prefix}.init.{t}",
            hwm_key=f"h.{t}",
        )

    def tick_token(self, subject: str) -> str:
        """The stream token of a tick subject."""
        return subject[2 * len(self.prefix) + 11 :]

    @staticmethod
    def cursor_key(consumer: str) -> str:
        return f"c.{token(consumer)}"


@functools.lru_cache(maxsize=4096)
def _of(names: Names, stream: str) -> StreamNames:
    """:meth:`Names.of`, cached: every append and read asks."""
    return names.of_token(token(stream))
