"""Whatever kawa's port answers, the CLI ends with one clear line, never a traceback.

A fake kawa (a real TLS listener with the data dir's certificate, see :mod:`tests.cli.peers`)
answers every request of a command with one bad answer: not JSON, JSON null, an array, the
wrong shape for a Table, a List or an object, an HTML error page, a Status with odd details,
a reset connection, a bad status line, a body cut short. Each must give exit code 1 and one
``error:`` line saying what was wrong.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import Cli
from .peers import RESET, Peer, http_answer, json_answer, write_server_file

HTML = b"""<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
</body>
</html>
"""
BROKER = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker"}


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    answer: bytes
    args: tuple[str, ...]
    expected: tuple[str, ...]
    lines: int = 1


GET = ("get", "brokers")
CASES = [
    Case("JSON null", http_answer(200, b"null"), GET, ("expected a JSON object", "JSON null")),
    Case("empty body", http_answer(200), GET, ("expected a JSON object", "an empty body")),
    Case(
        "not JSON",
        http_answer(200, b"hello\nworld", "text/plain"),
        GET,
        ("expected a JSON object", "not JSON: 'hello world'"),
    ),
    Case("JSON array", http_answer(200, b"[1, 2]"), GET, ("expected a JSON object", "[1,2]")),
    Case("JSON number", http_answer(200, b"7"), GET, ("expected a JSON object", "value 7")),
    Case(
        "table without rows",
        json_answer(200, {"kind": "Table"}),
        GET,
        ("expected a Table with columnDefinitions and rows",),
    ),
    Case(
        "table row without cells",
        json_answer(200, {"columnDefinitions": [{"name": "Name"}], "rows": [{"cells": "x"}]}),
        GET,
        ("rows[0]", "cells array"),
    ),
    Case(
        "table column without a name",
        json_answer(200, {"columnDefinitions": [{"name": 3}], "rows": []}),
        GET,
        ("columnDefinitions[0]", "a name"),
    ),
    Case(
        "table row object without metadata",
        json_answer(
            200,
            {
                "columnDefinitions": [{"name": "N"}],
                "rows": [{"cells": [], "object": {"metadata": 1}}],
            },
        ),
        (*GET, "-A"),
        ("rows[0].object",),
    ),
    Case(
        "list without items",
        json_answer(200, {"kind": "List"}),
        (*GET, "-o", "json"),
        ("expected a List with an items array",),
    ),
    Case(
        "list item without metadata",
        json_answer(200, {"items": [{"kind": "Broker"}]}),
        (*GET, "-o", "name"),
        ("items[0]", "metadata.name"),
    ),
    Case(
        "list item not an object",
        json_answer(200, {"items": [None]}),
        (*GET, "-o", "yaml"),
        ("items[0]: expected an object",),
    ),
    Case(
        "object without metadata",
        json_answer(200, BROKER),
        ("get", "broker", "default", "-o", "yaml"),
        ("metadata.name",),
    ),
    Case(
        "describe: object without metadata",
        json_answer(200, BROKER),
        ("describe", "broker", "default"),
        ("metadata.name",),
    ),
    Case(
        "describe: JSON null",
        http_answer(200, b"null"),
        ("describe", "broker", "default"),
        ("expected a JSON object",),
    ),
    Case(
        "apply: the stored object is null",
        http_answer(200, b"null"),
        ("apply", "-f", "{manifest}"),
        ("expected the object",),
    ),
    Case(
        "send: the broker's address is no URL",
        json_answer(200, {**BROKER, "status": {"address": {"url": "ftp:nowhere"}}}),
        ("send", "--broker", "default", "--type", "t"),
        ("status.address.url", "'ftp:nowhere'"),
    ),
    Case(
        "send: the broker's address is a number",
        json_answer(200, {**BROKER, "status": {"address": {"url": 7}}}),
        ("send", "--broker", "default", "--type", "t"),
        ("status.address.url",),
    ),
    Case(
        "send: the broker is null",
        http_answer(200, b"null"),
        ("send", "--broker", "default", "--type", "t"),
        ("expected a JSON object",),
    ),
    Case(
        "delete: an HTML page",
        http_answer(200, HTML, "text/html"),
        ("delete", "broker", "default"),
        ("expected a JSON object", "<html> <head><title>502"),
    ),
    Case(
        "HTML error page",
        http_answer(502, HTML, "text/html"),
        GET,
        ("Error from server (502): <html> <head><title>502 Bad Gateway</title>",),
    ),
    Case(
        "error without a body",
        http_answer(500),
        GET,
        ("Error from server (500): no message",),
    ),
    Case(
        "Status with details that are no object",
        json_answer(422, {"kind": "Status", "message": "bad", "details": ["x"]}),
        GET,
        ("Error from server (422): bad",),
    ),
    Case(
        "Status with causes that are no objects",
        json_answer(
            422,
            {"kind": "Status", "reason": "Invalid", "message": "m", "details": {"causes": [1, 2]}},
        ),
        GET,
        ("Error from server (Invalid): m", "  - 1", "  - 2"),
        lines=3,
    ),
    Case(
        "connection reset",
        RESET,
        GET,
        ("cannot reach kawa at", "closed connection without response"),
    ),
    Case(
        "bad status line",
        b"HELLO THERE\r\n\r\n",
        GET,
        ("gave no valid HTTP answer", "HELLO THERE"),
    ),
    Case(
        "body cut short",
        b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"kind"',
        GET,
        ("gave no valid HTTP answer", "ended after 7 bytes"),
    ),
]


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "broker.yaml"
    path.write_text("apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\n")
    return path


@pytest.fixture
def fake_kawa(data_dir: Path, kawa_tls: ssl.SSLContext) -> Iterator[list[bytes]]:
    """A fake kawa on both of kawa's ports, answering each request with ``answers[0]``."""
    answers = [b""]
    with (
        Peer(lambda _: answers[0], tls=kawa_tls) as api,
        Peer(lambda _: answers[0]) as plain,
    ):
        write_server_file(data_dir, plain.http_url, api.https_url)
        yield answers


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_an_unexpected_answer_is_one_clear_error(
    case: Case, cli: Cli, data_dir: Path, manifest: Path, fake_kawa: list[bytes]
) -> None:
    fake_kawa[0] = case.answer
    args = [a.format(manifest=manifest) for a in case.args]
    run = cli(*args, "--data-dir", str(data_dir))
    run.assert_clear_error(*case.expected, lines=case.lines)
