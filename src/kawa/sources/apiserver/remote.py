"""A remote Kubernetes-compatible API server as the Cluster of an ApiServerSource.

Selected per source by the annotation ``sources.kawa.dev/kubeconfig-secret: <name>``: a
Secret in the source's namespace whose key ``kubeconfig`` holds a kubeconfig. Its current
context gives the server URL, the CA (``certificate-authority-data``, or
``insecure-skip-tls-verify``) and the credentials (a bearer ``token``; client certificates
are not supported).

Over HTTPS with aiohttp: kinds are found through discovery (``/api/v1``, ``/apis/<group>/
<version>``); a watcher lists (``GET .../<plural>``) and then watches (``?watch=true&
resourceVersion=<rv>&allowWatchBookmarks=true``), reading one JSON watch event per line.
HTTP 410, or an ``ERROR`` watch event with code 410, is :class:`~kawa.errors.GoneError`; 403
(and 401: the credentials are refused) is :class:`~kawa.errors.ForbiddenError` with the
server's message. Permissions are the remote
server's business: the reconciler asks by listing one object of each watched resource (its
answer, 403 or not, is the check). :func:`describe_failure` words a failure to reach the
server for a condition (``cannot connect to https://...: Connection refused``). Built by
:mod:`kawa.sources.apiserver`.
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import orjson
import yaml

from kawa.apis.label_selector import LabelSelector
from kawa.errors import ForbiddenError, GoneError, KawaError, NotFoundError, ValidationError
from kawa.sources.apiserver.local import scope
from kawa.sources.apiserver.watch import KindInfo, Listing, Obj, WatchChange

KUBECONFIG_ANNOTATION: Final = "sources.kawa.dev/kubeconfig-secret"
KUBECONFIG_KEY: Final = "kubeconfig"
WATCH_TIMEOUT: Final = 300
"""Seconds a remote watch request lasts before it is renewed (``timeoutSeconds``)."""
_CONNECT_TIMEOUT: Final = 10.0


class ApiError(KawaError):
    """The remote server answered with an error (``code``: its HTTP status)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class KubeConfig:
    """What kawa uses of a kubeconfig: one cluster and one user, by its current context."""

    server: str
    token: str
    ca_pem: str | None
    insecure: bool


def _pick(config: Mapping[str, Any], section: str, name: Any, path: str) -> Mapping[str, Any]:
    items = config.get(section)
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and item.get("name") == name:
                body = item.get(section[:-1])
                if isinstance(body, Mapping):
                    return body
                raise ValidationError.single(f"{path}.{section}[{name}]", "has no body")
    raise ValidationError.single(f"{path}.{section}", f"no entry named {name!r}")


def parse_kubeconfig(text: str, path: str = "kubeconfig") -> KubeConfig:
    """Read a kubeconfig; :class:`ValidationError` at ``path`` when kawa cannot use it."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValidationError.single(path, f"not valid YAML: {err}") from None
    if not isinstance(config, Mapping):
        raise ValidationError.single(path, "expected a kubeconfig mapping")
    current = config.get("current-context")
    contexts = config.get("contexts")
    if not current and isinstance(contexts, list) and len(contexts) == 1:
        current = contexts[0].get("name") if isinstance(contexts[0], Mapping) else None
    if not current:
        raise ValidationError.single(f"{path}.current-context", "required field is missing")
    context = _pick(config, "contexts", current, path)
    cluster = _pick(config, "clusters", context.get("cluster"), path)
    user = _pick(config, "users", context.get("user"), path) if context.get("user") else {}
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise ValidationError.single(
            f"{path}.clusters[{context.get('cluster')}].cluster.server",
            f"expected an http(s) URL, got {server!r}",
        )
    ca_pem = None
    ca_data = cluster.get("certificate-authority-data")
    if isinstance(ca_data, str) and ca_data:
        try:
            ca_pem = base64.b64decode(ca_data, validate=True).decode("ascii")
        except (ValueError, UnicodeDecodeError):
            raise ValidationError.single(
                f"{path}.clusters[{context.get('cluster')}].cluster.certificate-authority-data",
                "not base64-encoded PEM",
            ) from None
    token = user.get("token")
    return KubeConfig(
        server.rstrip("/"),
        token if isinstance(token, str) else "",
        ca_pem,
        bool(cluster.get("insecure-skip-tls-verify")),
    )


def kubeconfig_from_secret(secret: Mapping[str, Any]) -> KubeConfig:
    """The kubeconfig in a Secret's ``data.kubeconfig`` (base64) or ``stringData``."""
    name = secret.get("metadata", {}).get("name", "")
    path = f"Secret {name}: data.{KUBECONFIG_KEY}"
    data = secret.get("data") or {}
    raw = data.get(KUBECONFIG_KEY) if isinstance(data, Mapping) else None
    if isinstance(raw, str):
        try:
            text = base64.b64decode(raw, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise ValidationError.single(path, "not base64-encoded UTF-8") from None
        return parse_kubeconfig(text, path)
    string_data = secret.get("stringData") or {}
    if isinstance(string_data, Mapping) and isinstance(string_data.get(KUBECONFIG_KEY), str):
        return parse_kubeconfig(string_data[KUBECONFIG_KEY], path)
    raise ValidationError.single(path, "required key is missing")


def _api_base(api_version: str) -> str:
    return f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"


def collection_path(info: KindInfo, namespace: str) -> str:
    base = _api_base(info.api_version)
    if namespace and info.namespaced:
        return f"{base}/namespaces/{namespace}/{info.plural}"
    return f"{base}/{info.plural}"


class RemoteCluster:
    """A :class:`~kawa.sources.apiserver.watch.Cluster` over HTTPS (see the module docstring)."""

    def __init__(self, config: KubeConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self._session = session
        self._ssl: ssl.SSLContext | bool
        if config.insecure:
            self._ssl = False
        elif config.ca_pem:
            self._ssl = ssl.create_default_context(cadata=config.ca_pem)
        else:
            self._ssl = ssl.create_default_context()
        self._headers = {"Accept": "application/json"}
        if config.token:
            self._headers["Authorization"] = f"Bearer {config.token}"

    @property
    def url(self) -> str:
        return self.config.server

    def open(
        self, path: str, params: Mapping[str, str] | None = None, *, timeout: float | None = 30.0
    ) -> Any:
        """A request context for ``GET path`` (raise-free: the caller checks the status)."""
        return self._session.get(
            self.config.server + path,
            params=params,
            headers=self._headers,
            ssl=self._ssl,
            timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=_CONNECT_TIMEOUT),
        )

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        async with self.open(path, params) as resp:
            body = await resp.read()
            if resp.status >= 400:
                raise error_for(resp.status, body, f"GET {path}")
            return orjson.loads(body)

    async def kind_info(self, api_version: str, kind: str) -> KindInfo:
        try:
            found = await self.get_json(_api_base(api_version))
        except ApiError as err:
            if err.code == 404:
                raise NotFoundError(f"the server does not serve {api_version}") from None
            raise
        for item in found.get("resources") or []:
            if item.get("kind") == kind and "/" not in str(item.get("name", "")):
                group = api_version.rpartition("/")[0]
                return KindInfo(
                    api_version, kind, str(item["name"]), group, bool(item.get("namespaced"))
                )
        raise NotFoundError(f"the server does not serve {kind} in {api_version}")

    async def namespaces(self, selector: LabelSelector) -> list[str]:
        listed = await self.get_json("/api/v1/namespaces")
        names = []
        for obj in listed.get("items") or []:
            labels = obj.get("metadata", {}).get("labels") or {}
            if selector.matches({str(k): str(v) for k, v in labels.items()}):
                names.append(str(obj["metadata"]["name"]))
        return sorted(names)

    async def namespace_exists(self, name: str) -> bool:
        try:
            await self.get_json(f"/api/v1/namespaces/{name}")
        except NotFoundError:
            return False
        return True

    async def missing_service_account(self, service_account: tuple[str, str]) -> str | None:
        return None  # the kubeconfig's credentials are used, not the ServiceAccount

    async def missing_permissions(
        self, info: KindInfo, namespace: str, service_account: tuple[str, str]
    ) -> list[str]:
        try:
            await self.get_json(collection_path(info, namespace), {"limit": "1"})
        except ForbiddenError as err:
            return [f"cannot list {info.resource} {scope(namespace)}: {err}"]
        return []

    def watcher(self, info: KindInfo, namespace: str) -> RemoteWatcher:
        return RemoteWatcher(self, collection_path(info, namespace))


def describe_failure(url: str, err: BaseException) -> str:
    """What went wrong talking to the server at ``url``, for a condition's message, e.g.
    ``cannot connect to https://10.0.0.1:6443: Connection refused``."""
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        cert = err.certificate_error
        reason = getattr(cert, "verify_message", None) or getattr(cert, "reason", None) or cert
        return f"cannot connect to {url}: TLS certificate not trusted: {reason}"
    if isinstance(err, aiohttp.ClientSSLError):
        return f"cannot connect to {url}: TLS handshake failed: {_os_text(err.os_error)}"
    if isinstance(err, aiohttp.ClientConnectorError):
        return f"cannot connect to {url}: {_os_text(err.os_error)}"
    if isinstance(err, TimeoutError):
        return f"cannot connect to {url}: no answer within {_CONNECT_TIMEOUT:g}s"
    if isinstance(err, ApiError):
        return f"{url} answered HTTP {err.code}: {err}"
    if isinstance(err, aiohttp.ClientError):
        return f"{url}: {err or type(err).__name__}"
    return f"{url}: {type(err).__name__}: {err}"


def _os_text(err: OSError) -> str:
    """The operating system's words for a socket error (``Connection refused``)."""
    if isinstance(err, ssl.SSLError):
        return str(err.reason or err)
    if err.errno is not None:
        return os.strerror(err.errno)
    return str(err) or type(err).__name__


def error_for(status: int, body: bytes, what: str) -> KawaError:
    """The error for an HTTP error answer (its Status ``message`` when there is one)."""
    message = ""
    try:
        parsed = orjson.loads(body)
        if isinstance(parsed, dict):
            message = str(parsed.get("message") or "")
    except orjson.JSONDecodeError:
        message = body[:200].decode("utf-8", "replace")
    message = message or f"{what}: HTTP {status}"
    if status == 410:
        return GoneError(message)
    if status in (401, 403):
        return ForbiddenError(message)
    if status == 404:
        return NotFoundError(message)
    return ApiError(status, message)


class RemoteWatcher:
    """List-then-watch over HTTPS for one collection path."""

    def __init__(self, cluster: RemoteCluster, path: str) -> None:
        self._cluster = cluster
        self._path = path

    async def list(self) -> Listing:
        listed = await self._cluster.get_json(self._path)
        kind = str(listed.get("kind", "")).removesuffix("List")
        api_version = str(listed.get("apiVersion", ""))
        items = []
        for item in listed.get("items") or []:
            # list items may come without apiVersion and kind (Kubernetes leaves them out)
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
            items.append(item)
        rv = str(listed.get("metadata", {}).get("resourceVersion", ""))
        return Listing(items, rv)

    async def watch(self, since: str) -> AsyncIterator[WatchChange]:
        params = {
            "watch": "true",
            "resourceVersion": since,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_TIMEOUT),
        }
        async with self._cluster.open(self._path, params, timeout=None) as resp:
            if resp.status >= 400:
                raise error_for(resp.status, await resp.read(), f"watch {self._path}")
            buffer = b""
            async for chunk in resp.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield _change(line)
            if buffer.strip():
                yield _change(buffer)


def _change(line: bytes) -> WatchChange:
    try:
        event = orjson.loads(line)
        kind = event["type"]
        obj: Obj = event["object"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ApiError(500, f"not a watch event: {line[:200]!r}") from None
    if kind == "ERROR":
        code = int(obj.get("code") or 500)
        raise error_for(code, orjson.dumps(obj), "watch")
    if kind not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
        raise ApiError(500, f"unknown watch event type {kind!r}")
    rv = str(obj.get("metadata", {}).get("resourceVersion", ""))
    return WatchChange(kind, obj, rv)
