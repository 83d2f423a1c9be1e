"""``kawa console``: the web console's URL, and a browser on it when there is a display.

The console is served by kawa on its HTTPS API port at ``/console/`` (:mod:`kawa.console`).
The command finds the API as every CLI command does (:mod:`kawa.cli.target`: server.json's
``apiUrl`` with the pinned certificate, or ``--server``), checks that kawa answers with the
token, and prints ``<apiUrl>/console/#token=<token>``: the fragment never leaves the
browser (it is not sent to any server, so no log holds it) and the page logs in with it.

A browser is started only when there is a display (``DISPLAY`` or ``WAYLAND_DISPLAY`` on
Linux and the BSDs; always on macOS and Windows): without one Python's :mod:`webbrowser`
would pick a text browser that takes over the terminal. The browser is not given the URL
on its command line, where any local user could read the token (``ps``): it opens
``<data-dir>/console.html`` (0600, as the token file), a page that forwards to the URL.
Nothing fails when no browser starts; the printed URL is the way in.
"""

from __future__ import annotations

import json
import os
import sys
import webbrowser
from pathlib import Path
from typing import Final

import click

from kawa import files
from kawa.apiserver import access
from kawa.cli import target
from kawa.cli.client import ApiClient, CliError

PATH: Final = "/console/"
LAUNCHER: Final = "console.html"
"""The private page in the data dir that forwards a browser to the console with the token."""


def has_display() -> bool:
    """Whether a graphical browser can be started here."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def console_url(api_url: str, token: str | None) -> str:
    """The console's URL on ``api_url``, logging in with ``token`` through the fragment."""
    base = api_url.rstrip("/") + PATH
    return f"{base}#token={token}" if token else base


def launcher_page(url: str) -> str:
    """A page that sends the browser on to ``url`` (kept in the data dir, 0600)."""
    quoted = json.dumps(url).replace("<", "\\u003c")
    return (
        "<!doctype html><meta charset=utf-8><meta name=referrer content=no-referrer>"
        f"<title>kawa console</title><script>location.replace({quoted})</script>"
        "<p>Opening kawa's console...</p>\n"
    )


def open_browser(url: str, data_dir: Path) -> bool:
    """Start a browser on ``url`` through the data dir's launcher page; False when none
    started (no display, no browser, or the data dir is not there)."""
    if not has_display() or not data_dir.is_dir():
        return False
    page = data_dir / LAUNCHER
    try:
        files.write_private(page, launcher_page(url).encode())
        return webbrowser.open(page.resolve().as_uri())
    except (OSError, webbrowser.Error):
        return False


def run(
    server: str | None, data_dir: Path, certificate_authority: Path | None, browser: bool
) -> None:
    """What ``kawa console`` does (its options are :mod:`kawa.cli.main`'s)."""
    token = access.read_token(data_dir)
    if token is None:
        raise CliError(
            f"no token in {data_dir / access.TOKEN_FILE} (start kawa with `kawa up --data-dir "
            f"{data_dir}`, or give the --data-dir of the kawa to open)"
        )
    client = ApiClient(target.find(server, data_dir, certificate_authority), token)
    client.checked("GET", "/version")  # kawa answers, and takes the token
    url = console_url(client.base_url, token)
    click.echo(url)
    if browser and open_browser(url, data_dir):
        click.echo("opened in a browser (through a page in the data dir)", err=True)
    elif browser:
        click.echo("no browser started: open the URL above", err=True)
