"""The CLI's HTTP client for kawa's Kubernetes-shaped API.

Finds the server from ``--server URL`` or from ``<data-dir>/server.json`` (written by
``kawa up``), and turns every API failure into a :class:`CliError` carrying the server's
message (and each field error), never a traceback.
"""

from __future__ import annotations

import errno
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from kawa.apis.registry import ResourceKind
from kawa.errors import KawaError


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


def server_url(server: str | None, data_dir: Path) -> str:
    if server:
        return check_url("--server", server).rstrip("/")
    path = data_dir / "server.json"
    try:
        info = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise CliError(
            f"no kawa server found: {path} does not exist (start one with `kawa up "
            f"--data-dir {data_dir}`, or pass --server URL)"
        ) from None
    except (OSError, orjson.JSONDecodeError) as err:
        raise CliError(f"cannot read {path}: {err}") from None
    url = info.get("url") if isinstance(info, dict) else None
    if not isinstance(url, str) or not url:
        raise CliError(f"{path} has no server url")
    return check_url(str(path), url).rstrip("/")


def resource_path(rk: ResourceKind, namespace: str | None, name: str | None = None) -> str:
    version = rk.versions[0]
    base = f"/apis/{rk.group}/{version}" if rk.group else f"/api/{version}"
    path = f"{base}/namespaces/{namespace}/{rk.plural}" if namespace else f"{base}/{rk.plural}"
    return f"{path}/{name}" if name else path


class ApiClient:
    """Synchronous JSON requests to kawa's API with its bearer token."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        self.base_url = base_url
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

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
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _decode(err.read())
        except (urllib.error.URLError, OSError) as err:
            raise CliError(f"cannot reach kawa at {self.base_url}: {err}") from None

    def checked(
        self, method: str, path: str, body: Any = None, *, accept: str | None = None
    ) -> Any:
        status, payload = self.request(method, path, body, accept=accept)
        if status >= 400:
            raise CliError(describe_failure(status, payload))
        return payload


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def describe_failure(status: int, payload: Any) -> str:
    """A user-facing message from a Kubernetes Status object (or any error body)."""
    if status == 401:
        return (
            "Error from server (Unauthorized): kawa refused the token; use the --data-dir of "
            "the running kawa (its token file is read from there)"
        )
    if isinstance(payload, dict) and payload.get("kind") == "Status":
        message = str(payload.get("message") or payload.get("reason") or status)
        causes = (payload.get("details") or {}).get("causes") or []
        if causes and len(causes) > 1 and "\n" not in message:
            lines = [f"  - {c.get('field')}: {c.get('message')}" for c in causes]
            message += "\n" + "\n".join(lines)
        return f"Error from server ({payload.get('reason') or status}): {message}"
    return f"Error from server ({status}): {payload}"
