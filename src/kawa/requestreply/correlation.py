"""Signed correlation ids: what a RequestReply puts on a request and checks on a reply.

The format is Knative's (``pkg/requestreply/correlation_id.go``)::

    <event id>:<base64url(nonce || AES-256-GCM(key, nonce, event id))>:<index>

The middle part is the event id encrypted and authenticated with a key only the
RequestReply's data plane holds (a fresh 96-bit nonce each time), so a reply id can be
checked without remembering anything: it decrypts under one of the RequestReply's keys to the
id in front of it. Nobody without the key makes one that does (GCM's tag), and one made for
another RequestReply (another key) does not pass either. ``index`` routes the reply: Knative
puts its data-plane replica there, kawa the number of the process holding the request
(:mod:`kawa.requestreply.pending`); it is not signed, so a changed index only sends a
reply where its request is not, where it is dropped.

Pure: used by :mod:`kawa.requestreply.handler`; tested in ``tests/requestreply``.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_SIZE: Final = 12
"""GCM's standard nonce (Go's ``gcm.NonceSize()``)."""
KEY_SIZES: Final = (16, 24, 32)
"""AES-128, -192 and -256 keys; kawa's controller makes 32-byte ones, as Knative's does."""
MAX_LENGTH: Final = 4096
"""A reply id longer than this is not looked at (an event id is rarely over 100 bytes)."""


@dataclass(frozen=True, slots=True)
class Correlation:
    """A correlation id that verified: the whole value, the request's event id and the index
    of the process that holds the request."""

    value: str
    event_id: str
    index: int


def new_key() -> bytes:
    """A fresh AES-256 key."""
    return AESGCM.generate_key(bit_length=256)


def sign(event_id: str, key: bytes, index: int, *, nonce: bytes | None = None) -> str:
    """The correlation id of a request whose event id is ``event_id``, held by process
    ``index`` (``nonce``: only for tests; a random one otherwise)."""
    if nonce is None:
        nonce = os.urandom(NONCE_SIZE)
    sealed = nonce + AESGCM(key).encrypt(nonce, event_id.encode(), None)
    return f"{event_id}:{base64.urlsafe_b64encode(sealed).decode()}:{index}"


def verify(value: str, keys: Iterable[bytes]) -> Correlation | None:
    """``value`` as a :class:`Correlation` if one of ``keys`` signed it, else ``None``.

    Splits from the right, so an event id holding ``:`` still verifies (Knative's split
    expects none). A key of a size AES does not take is skipped."""
    if len(value) > MAX_LENGTH:
        return None
    parts = value.rsplit(":", 2)
    if len(parts) != 3:
        return None
    event_id, sealed_text, index_text = parts
    if not index_text.isascii() or not index_text.isdigit():
        return None
    try:
        sealed = base64.urlsafe_b64decode(sealed_text.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    if len(sealed) <= NONCE_SIZE:
        return None
    nonce, ciphertext = sealed[:NONCE_SIZE], sealed[NONCE_SIZE:]
    for key in keys:
        if len(key) not in KEY_SIZES:
            continue
        try:
            plain = AESGCM(key).decrypt(nonce, ciphertext, None)
        except InvalidTag:
            continue
        if plain == event_id.encode():
            return Correlation(value, event_id, int(index_text))
    return None
