"""The CLI's HTTP client for kawa's Kubernetes-shaped API.

An :class:`ApiClient` talks to one :class:`Target`: an ``https://`` URL and the TLS context
that proves the server is kawa (:mod:`kawa.cli.target` finds both), so the bearer token only
travels encrypted to a server that showed the right certificate. It follows no redirects (a
redirect would carry the token elsewhere) and turns every failure into a one-line
:class:`CliError`: the server's Status message (and each field error), an unreachable or
unproven server, or an answer that is not what kawa sends (not JSON, JSON null, an HTML error
page, a connection reset). Never a traceback.

Called by :mod:`kawa.cli.main`, :mod:`kawa.cli.resources`, :mod:`kawa.cli.describe` and
:mod:`kawa.cli.demo`.
"""

from __future__ import annotations

import errno
import http.client
import ipaddress
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from kawa import __version__
from kawa.errors import KawaError

if TYPE_CHECKING:  # the scheme is imported by the commands that resolve kinds, not by all
    from kawa.apis.kinds import ResourceKind

SHOWN_BODY: Final = 200
"""Characters of an unexpected answer's body quoted in an error message."""


class CliError(KawaError):
    """A failure to report to the user (exit code 1)."""


def check_url(what: str, url: str) -> str:
    """``url`` if it is an http(s) URL with a host; CliError naming ``what`` otherwise."""
    try:
        parts = urllib.parse.urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        ok = False
    if not ok:
        raise CliError(f"{what}: expected an http:// or https:// URL, got {url!r}")
    return url


def startup_error(err: OSError, host: str, port: int) -> CliError:
    """The message for a server that cannot start (the port taken, the data dir unusable)."""
    if err.errno == errno.EADDRINUSE:
        return CliError(
            f"cannot listen on {host}:{port}: the address is already in use "
            "(is something already running there? choose another --port)"
        )
    return CliError(f"cannot start: {err}")


def resource_path(rk: ResourceKind, namespace: str | None, name: str | None = None) -> str:
    version = rk.versions[0]
    base = f"/apis/{rk.group}/{version}" if rk.group else f"/api/{version}"
    path = f"{base}/namespaces/{namespace}/{rk.plural}" if namespace else f"{base}/{rk.plural}"
    return f"{path}/{name}" if name else path


def process_gone(pid: int) -> bool:
    """True when no process ``pid`` exists (POSIX); False when it does or nobody can tell."""
    if os.name != "posix":  # os.kill(pid, 0) is no probe on Windows
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: someone else's process, alive
        return False
    try:  # Linux: a killed process whose parent has not reaped it yet is a zombie
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :][:1] == b"Z"


@dataclass(frozen=True, slots=True)
class Target:
    """Where kawa's API is, and what proves the server there is kawa."""

    url: str
    """An ``https://`` base URL (no trailing slash)."""
    ssl_context: ssl.SSLContext
    """Verifies the server's certificate (and host name) before anything is sent."""
    trust: str
    """What that context trusts, for messages (``the certificate in .kawa/tls/server.crt``)."""
    server_file: Path | None = None
    """The ``server.json`` the URL came from, if any."""
    pid: int | None = None
    """The pid that ``server_file`` names."""

    def __post_init__(self) -> None:
        if urllib.parse.urlsplit(self.url).scheme != "https":
            raise ValueError(f"kawa's API is only used over https, not {self.url!r}")

    def stale(self) -> str | None:
        """Why ``server_file`` is stale (the kawa that wrote it has exited), or None."""
        if self.server_file is None or self.pid is None or not process_gone(self.pid):
            return None
        data_dir = self.server_file.parent
        return (
            f"kawa is not running: {self.server_file} is stale (pid {self.pid}, which wrote "
            f"it, has exited; start kawa with `kawa up --data-dir {data_dir}`)"
        )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer like any other: following it would send the token elsewhere."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> None:
        return None


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiClient:
    """Synchronous JSON requests to kawa's API, over verified TLS, with its bearer token."""

    def __init__(self, target: Target, token: str | None = None, *, timeout: float = 30.0) -> None:
        self.target = target
        self.base_url = target.url
        self._timeout = timeout
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"kawa/{__version__}",  # the field manager of its writes: "kawa"
        }
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.HTTPSHandler(context=target.ssl_context),
            _NoRedirects(),
        ]
        if _is_loopback(target.url):  # like client-go: loopback is never proxied
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def request(
        self, method: str, path: str, body: Any = None, *, accept: str | None = None
    ) -> tuple[int, Any]:
        """(status, decoded JSON body) for any HTTP status; CliError when unreachable."""
        data = None if body is None else orjson.dumps(body)
        headers = dict(self._headers)
        if accept:
            headers["Accept"] = accept
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            try:
                with self._opener.open(req, timeout=self._timeout) as resp:
                    return resp.status, _decode(resp.read())
            except urllib.error.HTTPError as err:
                with err:
                    return err.code, _decode(err.read())
        except urllib.error.URLError as err:
            raise self._unreachable(err.reason) from None
        except (OSError, http.client.HTTPException) as err:
            raise self._unreachable(err) from None

    def checked(
        self, method: str, path: str, body: Any = None, *, accept: str | None = None
    ) -> dict[str, Any]:
        """The JSON object of a 2xx answer; CliError for any other status or answer."""
        status, payload = self.request(method, path, body, accept=accept)
        if not 200 <= status < 300:
            raise CliError(describe_failure(status, payload))
        if not isinstance(payload, dict):
            detail = f"expected a JSON object, got {_kind(payload)}"
            raise unexpected_answer(self.where(method, path), detail)
        return payload

    def where(self, method: str, path: str) -> str:
        """A request, named for messages."""
        return f"{method} {self.base_url}{path}"

    def _unreachable(self, reason: object) -> CliError:
        target = self.target
        if isinstance(reason, ssl.SSLCertVerificationError):
            problem = (
                f"{target.url} did not prove it is kawa: its certificate does not verify "
                f"against {target.trust} ({reason.verify_message})"
            )
        elif isinstance(reason, ssl.SSLError):
            problem = f"no TLS with kawa at {target.url} ({reason.reason or reason})"
        elif isinstance(reason, http.client.HTTPException) and not isinstance(reason, OSError):
            problem = f"kawa at {target.url} gave no valid HTTP answer ({_reason_text(reason)})"
        else:
            problem = f"cannot reach kawa at {target.url}: {_reason_text(reason)}"
        stale = target.stale()
        return CliError(f"{stale} [{problem}]" if stale else problem)


def unexpected_answer(where: str, detail: str) -> CliError:
    """The error for an answer kawa would not give to ``where`` (``detail``: what was wrong)."""
    return CliError(f"unexpected answer to {where}: {detail}")


def _reason_text(reason: object) -> str:
    if isinstance(reason, http.client.IncompleteRead):
        return f"the answer ended after {len(reason.partial)} bytes"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return _clip(str(reason)) or type(reason).__name__


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def _clip(text: str) -> str:
    """``text`` on one line, at most :data:`SHOWN_BODY` characters."""
    line = " ".join(text.split())
    return line if len(line) <= SHOWN_BODY else line[: SHOWN_BODY - 3] + "..."


def _kind(payload: Any) -> str:
    """What an answer's body is, for a message."""
    if payload is None:
        return "an empty body or JSON null"
    if isinstance(payload, str):
        return f"text that is not JSON: {_clip(payload)!r}"
    if isinstance(payload, list):
        return f"a JSON array: {_clip(orjson.dumps(payload).decode())}"
    if isinstance(payload, dict):
        return f"a JSON object: {_clip(orjson.dumps(payload).decode())}"
    return f"the JSON value {_clip(orjson.dumps(payload).decode())}"


def describe_failure(status: int, payload: Any) -> str:
    """A user-facing message from a Kubernetes Status object (or any error body)."""
    if status == 401:
        return (
            "Error from server (Unauthorized): kawa refused the token; use the --data-dir of "
            "the running kawa (its token file is read from there)"
        )
    if 300 <= status < 400:
        return f"Error from server ({status}): a redirect, not followed (kawa's API has none)"
    if isinstance(payload, dict) and payload.get("kind") == "Status":
        reason = payload.get("reason") or status
        message = str(payload.get("message") or reason)
        details = payload.get("details")
        causes = details.get("causes") if isinstance(details, dict) else None
        if isinstance(causes, list) and len(causes) > 1 and "\n" not in message:
            lines = [
                f"  - {c.get('field')}: {c.get('message')}" if isinstance(c, dict) else f"  - {c}"
                for c in causes
            ]
            message += "\n" + "\n".join(lines)
        return f"Error from server ({reason}): {message}"
    if payload is None:
        return f"Error from server ({status}): no message"
    if isinstance(payload, str):
        return f"Error from server ({status}): {_clip(payload)}"
    return f"Error from server ({status}): {_clip(orjson.dumps(payload).decode())}"
