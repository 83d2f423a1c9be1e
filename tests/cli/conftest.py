"""Fixtures of the CLI's tests: a data dir as ``kawa up`` leaves it, and the CLI to run.

``data_dir`` holds a token and kawa's certificate (no server.json: each test writes the one
it needs); ``kawa_tls`` is the server-side TLS context of that certificate, for a fake kawa.
``cli`` runs the real ``kawa`` command in this process (click's runner), so that the peers
of :mod:`tests.cli.peers` can run in threads next to it.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from kawa.apiserver import access
from kawa.cli.main import main

from .peers import certificate


@dataclass(frozen=True, slots=True)
class Run:
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def explain(self) -> str:
        return f"exit {self.code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"

    def assert_clear_error(self, *expected: str, lines: int = 1) -> None:
        """Exit code 1, ``lines`` lines on stderr starting ``error:``, no traceback."""
        assert self.code == 1, self.explain()
        assert isinstance(self.exception, SystemExit), repr(self.exception)
        assert "Traceback" not in self.stderr, self.explain()
        assert self.stderr.startswith("error: "), self.explain()
        assert len(self.stderr.rstrip("\n").splitlines()) == lines, self.explain()
        for text in expected:
            assert text in self.stderr, f"{text!r} missing\n{self.explain()}"


Cli = Callable[..., Run]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    access.ensure_token(path)
    return path


@pytest.fixture
def token(data_dir: Path) -> bytes:
    return (data_dir / access.TOKEN_FILE).read_bytes().strip()


@pytest.fixture
def kawa_tls(data_dir: Path) -> ssl.SSLContext:
    return certificate(data_dir)[1]


@pytest.fixture
def cli() -> Cli:
    def run(*args: str) -> Run:
        result = CliRunner().invoke(main, list(args))
        return Run(result.exit_code, result.stdout, result.stderr, result.exception)

    return run
