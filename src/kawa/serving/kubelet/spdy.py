"""SPDY/3.1 framing, the little ``kubectl port-forward`` needs: pure, no sockets.

kubectl 1.31+ tunnels a SPDY/3.1 session through a WebSocket for port-forward (subprotocol
``SPDY/3.1+portforward.k8s.io``: the binary messages carry the session's bytes, cut
anywhere). The client opens streams (SYN_STREAM, odd ids, headers ``streamtype``,
``port``, ``requestid``); the server answers each with a SYN_REPLY, and both sides send
DATA frames (flag FIN: that side is done), RST_STREAM (a stream aborted) and PING (echoed).

Frames: a control frame is ``1 | version(15) | type(16) | flags(8) | length(24) | data``, a
data frame ``0 | stream-id(31) | flags(8) | length(24) | data``. A header block is a count
and length-prefixed names and values (32-bit, big-endian), compressed with one zlib stream
per direction for the whole session, primed with SPDY/3's dictionary.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final

VERSION: Final = 3
SYN_STREAM: Final = 1
SYN_REPLY: Final = 2
RST_STREAM: Final = 3
SETTINGS: Final = 4
PING: Final = 6
GOAWAY: Final = 7
HEADERS: Final = 8
WINDOW_UPDATE: Final = 9
FLAG_FIN: Final = 0x01
CANCEL: Final = 5
"""RST_STREAM status CANCEL."""
MAX_FRAME: Final = 1 << 24

_WORDS: Final = (
    *[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
    ],
    "200 OK",
    *["version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"],
)
_TAIL: Final = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
    "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
    "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
    "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
    "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
    "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
    "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY: Final = (
    b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()
)
"""SPDY/3's header dictionary (its draft, section 2.6.10.1): length-prefixed words, then a
run of status lines, dates and media types; 1423 bytes."""


class ProtocolError(Exception):
    """The peer broke the framing."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame: ``control`` frames have a ``type``, data frames ``type == 0``."""

    control: bool
    type: int
    flags: int
    stream_id: int
    payload: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class Parser:
    """Frames from a byte stream fed in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from(">II", self._buffer)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            flags = second >> 24
            if first & 0x80000000:
                version, type_ = (first >> 16) & 0x7FFF, first & 0xFFFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                stream = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF if length >= 4 else 0
                frames.append(Frame(True, type_, flags, stream, payload))
            else:
                frames.append(Frame(False, 0, flags, first & 0x7FFFFFFF, payload))
        return frames


class HeaderCodec:
    """The session's two zlib streams: headers in, headers out."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    def decode(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as err:
            raise ProtocolError(f"bad header block: {err}") from None
        headers: dict[str, str] = {}
        try:
            (count,) = struct.unpack_from(">I", raw)
            at = 4
            for _ in range(count):
                (size,) = struct.unpack_from(">I", raw, at)
                name = raw[at + 4 : at + 4 + size].decode()
                at += 4 + size
                (size,) = struct.unpack_from(">I", raw, at)
                value = raw[at + 4 : at + 4 + size].decode()
                at += 4 + size
                headers[name.lower()] = value.split("\x00")[0]
        except (struct.error, UnicodeDecodeError):
            raise ProtocolError("bad header block") from None
        return headers

    def encode(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            for text in (name.lower(), value):
                raw += struct.pack(">I", len(text.encode())) + text.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


def _control(type_: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, type_, (flags << 24) | len(payload)) + payload


def syn_stream_headers(frame: Frame, codec: HeaderCodec) -> dict[str, str]:
    """The headers of a SYN_STREAM (after stream id, associated id, priority and slot)."""
    return codec.decode(frame.payload[10:])


def syn_reply(stream_id: int, codec: HeaderCodec, *, fin: bool = False) -> bytes:
    block = codec.encode({})
    return _control(SYN_REPLY, FLAG_FIN if fin else 0, struct.pack(">I", stream_id) + block)


def data(stream_id: int, payload: bytes, *, fin: bool = False) -> bytes:
    """DATA frames for ``payload`` (split under the frame size limit)."""
    flags = FLAG_FIN if fin else 0
    if not payload:
        return struct.pack(">II", stream_id & 0x7FFFFFFF, flags << 24)
    out = bytearray()
    step = MAX_FRAME - 1
    for at in range(0, len(payload), step):
        piece = payload[at : at + step]
        last = at + step >= len(payload)
        out += struct.pack(
            ">II", stream_id & 0x7FFFFFFF, ((flags if last else 0) << 24) | len(piece)
        )
        out += piece
    return bytes(out)


def rst_stream(stream_id: int, status: int = CANCEL) -> bytes:
    return _control(RST_STREAM, 0, struct.pack(">II", stream_id, status))


def ping(payload: bytes) -> bytes:
    return _control(PING, 0, payload[:4])


def goaway(last_stream: int) -> bytes:
    return _control(GOAWAY, 0, struct.pack(">II", last_stream, 0))
