"""Bad input never hurts: the real CLI (and the broker ingress) against a running kawa.

Each bad manifest, bad flag or bad event must get a specific error naming the field and what
was expected, a non-zero exit code (or a 400), no Python traceback, and must leave the stored
objects exactly as they were (``kawa get ... -o json`` before and after).
"""

from __future__ import annotations

import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from .e2e_support import KawaProcess, broker, free_port, kawa_up, run_cli, trigger

pytestmark = pytest.mark.slow

GOOD_TRIGGER_URI = "http://127.0.0.1:9/"

MANIFESTS = {
    "unknown-kind.yaml": """
        apiVersion: eventing.knative.dev/v1
        kind: Frobnicator
        metadata: {name: frob}
        """,
    "missing-subscriber.yaml": """
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: no-subscriber}
        spec: {broker: default}
        """,
    "bad-duration.yaml": """
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: bad-duration}
        spec:
          broker: default
          subscriber: {uri: "http://127.0.0.1:9/"}
          delivery: {backoffDelay: soon}
        """,
    "bad-attribute-keys.yaml": """
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: bad-keys}
        spec:
          broker: default
          subscriber: {uri: "http://127.0.0.1:9/"}
          filter: {attributes: {SOURCE: /x, a-b: y}}
        """,
    "cesql.yaml": """
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: cesql}
        spec:
          broker: default
          subscriber: {uri: "http://127.0.0.1:9/"}
          filters: [{cesql: "type = = 'x'"}]
        """,
    "invalid.yaml": """
        kind: [Trigger
          : :
        """,
    "move-trigger.yaml": """
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: existing}
        spec:
          broker: other
          subscriber: {uri: "http://127.0.0.1:9/"}
        """,
    # a good object before a bad one in the same file: the file is all or nothing
    "good-then-invalid.yaml": """
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: not-created}
        ---
        kind: [oops
        """,
}


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    args: tuple[str, ...]
    expected: tuple[str, ...]
    """Substrings the error must contain (the field, and what was expected)."""
    exit_code: int | None = None


CASES = [
    Case(
        "unknown kind",
        ("apply", "-f", "{dir}/unknown-kind.yaml"),
        ("kind", "Frobnicator", "known kinds: ", "Broker", "Trigger"),
        1,
    ),
    Case(
        "missing spec.subscriber",
        ("apply", "-f", "{dir}/missing-subscriber.yaml"),
        ("spec.subscriber", "required"),
        1,
    ),
    Case(
        "bad duration",
        ("apply", "-f", "{dir}/bad-duration.yaml"),
        ("spec.delivery.backoffDelay", "'soon'", "ISO 8601 duration"),
        1,
    ),
    Case(
        "invalid attribute keys",
        ("apply", "-f", "{dir}/bad-attribute-keys.yaml"),
        ("spec.filter.attributes[SOURCE]", "spec.filter.attributes[a-b]", "lowercase letter"),
        1,
    ),
    Case(
        "invalid cesql filter",
        ("apply", "-f", "{dir}/cesql.yaml"),
        ("spec.filters[0].cesql", "invalid CloudEvents SQL expression", "at 1:8"),
        1,
    ),
    Case(
        "invalid YAML", ("apply", "-f", "{dir}/invalid.yaml"), ("invalid.yaml", "YAML", "line 2"), 1
    ),
    Case(
        "invalid YAML after a good document",
        ("apply", "-f", "{dir}/good-then-invalid.yaml"),
        ("good-then-invalid.yaml", "YAML"),
        1,
    ),
    Case(
        "file does not exist",
        ("apply", "-f", "{dir}/nope.yaml"),
        ("nope.yaml", "no such file"),
        1,
    ),
    Case(
        "immutable spec.broker",
        ("apply", "-f", "{dir}/move-trigger.yaml"),
        ("spec.broker", "immutable", "'default'", "'other'"),
        1,
    ),
    Case(
        "send -e BAD_NAME=x",
        ("send", "--broker", "default", "--type", "t", "-e", "BAD_NAME=x"),
        ("BAD_NAME", "lowercase letters"),
        1,
    ),
    Case(
        "send -e without =",
        ("send", "--broker", "default", "--type", "t", "-e", "novalue"),
        ("--extension", "NAME=VALUE"),
        1,
    ),
    Case("send without --type", ("send", "--broker", "default"), ("--type",), 2),
    Case(
        "send with --to and --broker",
        ("send", "--broker", "default", "--to", "http://127.0.0.1:9/", "--type", "t"),
        ("--to", "--broker", "exactly one"),
        1,
    ),
    Case(
        "send to an unknown broker",
        ("send", "--broker", "nosuch", "--type", "t"),
        ("nosuch", "not found"),
        1,
    ),
    Case(
        "send --data @missing",
        ("send", "--broker", "default", "--type", "t", "--data", "@/nonexistent/x"),
        ("--data", "/nonexistent/x"),
        1,
    ),
    Case("up --port -1", ("up", "--port", "-1", "--data-dir", "{dir}/other"), ("--port", "-1"), 2),
    Case(
        "up on a port in use",
        ("up", "--port", "{port}", "--data-dir", "{dir}/other"),
        ("cannot listen on 127.0.0.1:{port}", "already in use", "--port"),
        1,
    ),
    Case(
        "up on a data dir in use",
        ("up", "--port", "0", "--data-dir", "{data_dir}"),
        ("events.db", "in use by another process"),
        1,
    ),
    Case(
        "send --to not a URL",
        ("send", "--to", "not-a-url", "--type", "t"),
        ("--to", "http://", "'not-a-url'"),
        1,
    ),
    Case(
        "get --server not a URL",
        ("get", "brokers", "--server", "ftp://x"),
        ("--server", "http://", "'ftp://x'"),
        1,
    ),
    Case("get nosuchkind", ("get", "nosuchkind"), ("nosuchkind", "known kinds"), 1),
    Case("delete a missing trigger", ("delete", "trigger", "nosuch"), ("nosuch", "not found"), 1),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad-input")
    for name, text in MANIFESTS.items():
        (path / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def kawa(workdir: Path) -> Iterator[KawaProcess]:
    with kawa_up(workdir, "--log-level", "warning") as running:
        running.create(broker())
        running.create(trigger("existing", GOOD_TRIGGER_URI))
        running.wait_ready("triggers", "existing")
        running.wait_ready("brokers", "default")
        yield running
        assert running.stop() == 0, running.stderr
        assert "Traceback" not in running.stderr, running.stderr


def snapshot(kawa: KawaProcess, workdir: Path) -> list[object]:
    """Every Broker and Trigger stored (straight from the API: ``kawa get`` itself is tested
    elsewhere), without the list's resourceVersion."""
    found: list[object] = []
    for plural in ("brokers", "triggers"):
        status, listed = kawa.request("GET", f"/apis/eventing.knative.dev/v1/{plural}")
        assert status == 200, listed
        found.append(listed["items"])
    return found


@pytest.fixture(scope="module")
def baseline(kawa: KawaProcess, workdir: Path) -> list[object]:
    return snapshot(kawa, workdir)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_a_clear_error_and_changes_nothing(
    case: Case, kawa: KawaProcess, workdir: Path, baseline: list[object]
) -> None:
    where = {"dir": workdir, "port": kawa.port, "data_dir": kawa.data_dir}
    args = [a.format(**where) for a in case.args]
    if args[0] != "up":
        args += ["--data-dir", str(kawa.data_dir)]
    result = run_cli(*args, cwd=workdir)
    assert result.code != 0, result.explain()
    if case.exit_code is not None:
        assert result.code == case.exit_code, result.explain()
    assert "Traceback" not in result.stderr, result.explain()
    for expected in (e.format(**where) for e in case.expected):
        assert expected in result.stderr, f"{expected!r} missing\n{result.explain()}"
    assert snapshot(kawa, workdir) == baseline


def test_apply_without_a_running_server(workdir: Path, tmp_path: Path) -> None:
    result = run_cli(
        "apply", "-f", str(workdir / "cesql.yaml"), "--data-dir", str(tmp_path), cwd=workdir
    )
    assert result.code == 1, result.explain()
    assert "Traceback" not in result.stderr
    assert "no kawa server found" in result.stderr
    assert "kawa up" in result.stderr  # tells how to start one


def test_apply_to_a_server_that_is_gone(workdir: Path) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    result = run_cli("apply", "-f", str(workdir / "cesql.yaml"), "--server", url, cwd=workdir)
    assert result.code == 1, result.explain()
    assert "Traceback" not in result.stderr
    assert f"cannot reach kawa at {url}" in result.stderr


def post(url: str, headers: dict[str, str], body: bytes, method: str = "POST") -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


BINARY = {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/e2e", "ce-type": "e2e.bad"}
STRUCTURED = {"content-type": "application/cloudevents+json"}


@pytest.mark.parametrize(
    ("headers", "body", "status", "expected"),
    [
        pytest.param(
            {k: v for k, v in BINARY.items() if k != "ce-specversion"},
            b"x",
            400,
            ("specversion", "required"),
            id="missing ce-specversion",
        ),
        pytest.param(
            STRUCTURED,
            orjson.dumps(
                {
                    "specversion": "1.0",
                    "id": "1",
                    "source": "/e2e",
                    "type": "e2e.bad",
                    "data": "x",
                    "data_base64": "eA==",
                }
            ),
            400,
            ("data_base64", "mutually exclusive"),
            id="both data and data_base64",
        ),
        pytest.param(
            {**BINARY, "ce-time": "yesterday"},
            b"x",
            400,
            ("ce-time", "RFC 3339", "yesterday"),
            id="invalid time",
        ),
        pytest.param(STRUCTURED, b"{not json", 400, ("JSON",), id="structured body not JSON"),
    ],
)
def test_bad_events_get_400_with_the_reason(
    kawa: KawaProcess,
    headers: dict[str, str],
    body: bytes,
    status: int,
    expected: tuple[str, ...],
) -> None:
    got, text = post(kawa.broker_url(), headers, body)
    assert got == status, text
    for word in expected:
        assert word in text, text


def test_unknown_broker_and_wrong_method(kawa: KawaProcess) -> None:
    got, text = post(kawa.broker_url("nosuch"), BINARY, b"x")
    assert (got, "nosuch" in text) == (404, True), text
    got, text = post(kawa.broker_url(), {}, b"", method="PUT")
    assert got == 405, text
    assert "POST" in text
