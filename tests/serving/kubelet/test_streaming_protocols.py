"""The pure pieces of exec and port-forward: SPDY/3.1 framing and header blocks, the
WebSocket channel protocol's messages and ``PodExecOptions`` from a query."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from kawa.errors import ValidationError
from kawa.serving.kubelet import channels, spdy


def test_the_header_dictionary_is_spdy3s() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2  # the DICTID kubectl's blocks carry


def test_header_blocks_share_one_zlib_stream_per_direction() -> None:
    client, server = spdy.HeaderCodec(), spdy.HeaderCodec()
    first = client.encode({"streamtype": "error", "port": "8080", "requestid": "0"})
    second = client.encode({"streamtype": "data", "port": "8080", "requestid": "0"})
    assert server.decode(first) == {"streamtype": "error", "port": "8080", "requestid": "0"}
    assert server.decode(second)["streamtype"] == "data"
    with pytest.raises(spdy.ProtocolError):
        spdy.HeaderCodec().decode(second)  # out of its stream's context


def test_frames_cut_anywhere_are_reassembled() -> None:
    client = spdy.HeaderCodec()
    block = client.encode({"streamtype": "data", "port": "80", "requestid": "7"})
    syn = struct.pack(">HHI", 0x8003, spdy.SYN_STREAM, 10 + len(block))
    syn += struct.pack(">IIH", 3, 0, 0) + block
    stream = syn + spdy.data(3, b"hello") + spdy.data(3, b"", fin=True) + spdy.ping(b"\0\0\0\1")
    parser, frames = spdy.Parser(), []
    for at in range(len(stream)):
        frames += parser.feed(stream[at : at + 1])
    assert [(f.control, f.type, f.stream_id) for f in frames] == [
        (True, spdy.SYN_STREAM, 3),
        (False, 0, 3),
        (False, 0, 3),
        (True, spdy.PING, 1),
    ]
    assert spdy.syn_stream_headers(frames[0], spdy.HeaderCodec())["requestid"] == "7"
    assert (frames[1].payload, frames[1].fin) == (b"hello", False)
    assert (frames[2].payload, frames[2].fin) == (b"", True)


def test_a_reply_decodes_on_the_other_side() -> None:
    server, client = spdy.HeaderCodec(), spdy.HeaderCodec()
    (frame,) = spdy.Parser().feed(spdy.syn_reply(5, server))
    assert (frame.type, frame.stream_id) == (spdy.SYN_REPLY, 5)
    assert client.decode(frame.payload[4:]) == {}


def test_exit_status_is_what_kubectl_reads() -> None:
    assert channels.exit_status(0, ["true"]) == {"metadata": {}, "status": "Success"}
    failed = channels.exit_status(3, ["sh", "-c", "exit 3"])
    assert failed["reason"] == "NonZeroExitCode"
    assert failed["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    message = channels.status_frame(failed)
    assert message[0] == channels.ERROR
    assert json.loads(message[1:]) == failed


def test_channel_messages() -> None:
    assert channels.split(channels.frame(channels.STDOUT, b"x")) == (1, b"x")
    assert channels.split(b"") is None
    assert channels.resize(b'{"Width":80,"Height":24}') == (80, 24)
    assert channels.resize(b'{"Width":0,"Height":24}') is None
    assert channels.resize(b"nonsense") is None


def test_exec_options() -> None:
    options = channels.ExecOptions.parse({"stdout": "true", "tty": "1"}, ["sh"])
    assert (options.command, options.tty, options.stdin) == (("sh",), True, False)
    for query, commands in (
        ({"stdout": "true"}, []),
        ({}, ["sh"]),
        ({"stdout": "true", "stderr": "true", "tty": "true"}, ["sh"]),
        ({"stdout": "maybe"}, ["sh"]),
    ):
        with pytest.raises(ValidationError):
            channels.ExecOptions.parse(query, commands)
