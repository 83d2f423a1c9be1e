"""``kawa console``: prints the console's URL with the token in its fragment, after checking
that the server proves it is kawa; starts a browser only when there is a display, and then
through a private page in the data dir (the token is never on a command line)."""

from __future__ import annotations

import ssl
import stat
import sys
import webbrowser
from pathlib import Path

import pytest

from kawa.cli import console

from .conftest import Cli
from .peers import Peer, certificate, json_answer, write_server_file


def version(request: bytes) -> bytes:
    return json_answer(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-kawa"})


@pytest.fixture
def no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What ``webbrowser.open`` was asked to open (nothing is started)."""
    calls: list[str] = []

    def fake_open(url: str, new: int = 0, autoraise: bool = True) -> bool:
        calls.append(url)
        return True

    monkeypatch.setattr(webbrowser, "open", fake_open)
    return calls


def test_prints_the_url_with_the_token_and_starts_no_browser_without_a_display(
    cli: Cli,
    data_dir: Path,
    token: bytes,
    kawa_tls: ssl.SSLContext,
    no_display: None,
    opened: list[str],
) -> None:
    with Peer(version, tls=kawa_tls) as kawa:
        write_server_file(data_dir, "http://127.0.0.1:1", kawa.https_url)
        run = cli("console", "--data-dir", str(data_dir))
    assert run.code == 0, run.explain()
    assert run.stdout == f"{kawa.https_url}/console/#token={token.decode()}\n"
    assert "no browser started" in run.stderr
    assert opened == []
    assert not (data_dir / console.LAUNCHER).exists()
    assert b"GET /version" in kawa.everything()  # it checked kawa answers with the token
    assert b"Authorization: Bearer " + token in kawa.everything()


def test_with_a_display_the_browser_opens_a_private_page_not_the_token(
    cli: Cli,
    data_dir: Path,
    token: bytes,
    kawa_tls: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
    opened: list[str],
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":99")
    with Peer(version, tls=kawa_tls) as kawa:
        write_server_file(data_dir, "http://127.0.0.1:1", kawa.https_url)
        run = cli("console", "--data-dir", str(data_dir))
        no_browser = cli("console", "--no-browser", "--data-dir", str(data_dir))
    assert run.code == 0, run.explain()
    launcher = data_dir / console.LAUNCHER
    assert opened == [launcher.resolve().as_uri()]  # the token is not on a command line
    assert token.decode() not in opened[0]
    assert stat.S_IMODE(launcher.stat().st_mode) == 0o600
    assert f'location.replace("{kawa.https_url}/console/#token={token.decode()}")' in (
        launcher.read_text()
    )
    assert no_browser.code == 0, no_browser.explain()
    assert len(opened) == 1


def test_a_server_that_is_not_kawa_gets_no_token_and_no_url_is_printed(
    cli: Cli,
    data_dir: Path,
    token: bytes,
    kawa_tls: ssl.SSLContext,
    tmp_path: Path,
    no_display: None,
) -> None:
    _, own = certificate(tmp_path / "stranger")
    with Peer(version, tls=own) as stranger:
        write_server_file(data_dir, "http://127.0.0.1:1", stranger.https_url)
        run = cli("console", "--data-dir", str(data_dir))
    run.assert_clear_error("did not prove it is kawa")
    assert run.stdout == ""
    assert token not in stranger.everything()


def test_the_launcher_page_cannot_be_broken_out_of() -> None:
    page = console.launcher_page("https://x/console/#token=</script><b>")
    assert "</script><b>" not in page
    assert page.count("</script>") == 1
