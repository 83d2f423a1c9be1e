"""Which server the CLI sends its token to, and why it believes the server is kawa.

The token only travels over TLS to a server that proved who it is:

- without ``--server``: the ``apiUrl`` (HTTPS) of ``<data-dir>/server.json``, written by
  ``kawa up``, verified against the certificate kawa keeps in ``<data-dir>/tls/server.crt``
  and nothing else (pinned: not the system's certificate authorities). A stranger listening on
  that port (kawa was killed and left its server.json behind) cannot finish the handshake,
  so it never sees the token; the CLI then says kawa is not running.
- ``--server https://...``: verified against ``--certificate-authority FILE`` when given,
  else the data dir's certificate when it has one, else the system's certificate authorities.
- ``--server http://...`` is refused, loopback or not: the CLI sends no token in clear text.
  (The plain-HTTP port is the broker ingress; ``kawa send`` posts events there, tokenless.)

A wildcard bind address (``0.0.0.0``, ``::``) in server.json is reached at ``127.0.0.1``, a
name kawa's certificate always carries. Called by :mod:`kawa.cli.main` and
:mod:`kawa.cli.demo`.
"""

from __future__ import annotations

import ssl
import urllib.parse
from pathlib import Path
from typing import Final

import orjson

from kawa.apiserver import access
from kawa.cli.client import CliError, Target, check_url
from kawa.datadir import SERVER_FILE

_WILDCARDS: Final = ("0.0.0.0", "::")


def pinned_context(cafile: Path) -> ssl.SSLContext:
    """A client TLS context that trusts only the certificate(s) in ``cafile``."""
    try:
        context = ssl.create_default_context(cafile=str(cafile))
    except FileNotFoundError:
        raise CliError(f"{cafile} does not exist") from None
    except (OSError, ssl.SSLError) as err:
        raise CliError(f"{cafile}: not a readable PEM certificate ({err})") from None
    # Python 3.13 turns on X.509 strict checks by default, which refuse a self-signed
    # certificate without the key usage extension (kawa's, as kubectl accepts it). The
    # trust comes from the pinned file, not from how conventional the certificate is.
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


def find(server: str | None, data_dir: Path, certificate_authority: Path | None) -> Target:
    """kawa's API: ``--server URL`` if given, else ``<data-dir>/server.json``'s apiUrl."""
    if server:
        return _from_flag(server, data_dir, certificate_authority)
    return _from_server_file(data_dir, certificate_authority)


def _from_flag(server: str, data_dir: Path, certificate_authority: Path | None) -> Target:
    url = check_url("--server", server).rstrip("/")
    if urllib.parse.urlsplit(url).scheme != "https":
        raise CliError(
            f"--server {server}: the kawa CLI sends its token only over TLS; give kawa's "
            "https:// API URL (`kawa up` prints it, server.json has it as apiUrl; port 7443 "
            "by default)"
        )
    if certificate_authority is not None:
        return Target(url, pinned_context(certificate_authority), str(certificate_authority))
    pinned = data_dir / access.CERT_FILE
    if pinned.exists():
        return Target(url, pinned_context(pinned), f"the certificate in {pinned}")
    return Target(url, ssl.create_default_context(), "the system's certificate authorities")


def _from_server_file(data_dir: Path, certificate_authority: Path | None) -> Target:
    path = data_dir / SERVER_FILE
    try:
        info = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise CliError(
            f"no kawa server found: {path} does not exist (start one with `kawa up "
            f"--data-dir {data_dir}`, or pass --server URL)"
        ) from None
    except (OSError, orjson.JSONDecodeError) as err:
        raise CliError(f"cannot read {path}: {err}") from None
    if not isinstance(info, dict):
        raise CliError(f"{path}: expected a JSON object as `kawa up` writes it")
    api_url = info.get("apiUrl")
    if not isinstance(api_url, str) or not api_url.startswith("https://"):
        raise CliError(
            f"{path} has no https apiUrl (written by an older kawa? restart `kawa up "
            f"--data-dir {data_dir}`)"
        )
    url = _reachable(check_url(f"{path} apiUrl", api_url).rstrip("/"))
    pid = info.get("pid")
    pid = pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None
    cafile = certificate_authority or data_dir / access.CERT_FILE
    if not cafile.exists():
        raise CliError(
            f"{cafile} does not exist, so nothing proves that {url} is kawa (start kawa with "
            f"`kawa up --data-dir {data_dir}`)"
        )
    trust = str(cafile) if certificate_authority else f"the certificate in {cafile}"
    return Target(url, pinned_context(cafile), trust, server_file=path, pid=pid)


def _reachable(url: str) -> str:
    """``url`` with a wildcard bind address replaced by ``127.0.0.1``."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in _WILDCARDS:
        return url
    return parts._replace(netloc=f"127.0.0.1:{parts.port}" if parts.port else "127.0.0.1").geturl()
