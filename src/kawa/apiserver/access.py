"""Who may use the API: a bearer token, TLS for kubectl, and the kubeconfig that says both.

On first start ``kawa up`` creates, in its data dir:

- ``token``: a random bearer token (mode 0600). Every API request (``/api``, ``/apis``,
  ``/openapi``, ``/version`` ...) must carry ``Authorization: Bearer <token>``, else 401
  (the scheme in any case, as RFC 7235 and RFC 6750 have it: ``bearer`` works too).
  The data plane (broker ingress) needs none, as Knative's in-cluster ingress. A Pod's
  ``log``/``exec``/``portforward`` forwarded by another kawa carries a signed hop header
  instead, checked by its handler (:mod:`kawa.serving.kubelet.proxy`).
- ``tls/server.crt`` and ``tls/server.key`` (``tls/`` is 0700, both files 0600): a
  self-signed certificate for ``127.0.0.1``, ``localhost``, the bind host, the node's
  ``--advertise-address`` and ``kubernetes.default.svc`` (the name podman containers reach
  the API by). kubectl
  only sends credentials over TLS (client-go drops them for plain ``http://`` servers), so
  the API is also served over HTTPS.
- ``kubeconfig``: a cluster ``kawa`` at the HTTPS URL with the certificate as its CA, a user
  with the token, and a context ``kawa`` (``kawa kubeconfig`` prints it; a wildcard bind
  address, ``0.0.0.0`` or ``::``, is written as the node's advertised address there;
  ``export KUBECONFIG=<data-dir>/kubeconfig`` points kubectl at kawa). kawa never writes
  ``~/.kube/config``.

Called by :mod:`kawa.runtime` (files, middleware) and the CLI (token, kubeconfig).
"""

from __future__ import annotations

import base64
import datetime
import hmac
import ipaddress
import secrets
import ssl
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

import yaml

from kawa import files
from kawa.errors import UnauthorizedError

if TYPE_CHECKING:  # the CLI reads tokens and certificates here without importing aiohttp
    from aiohttp import web
    from aiohttp.typedefs import Middleware

    from kawa.transport.front import Guard

WILDCARDS: Final = ("0.0.0.0", "::")
"""Bind addresses that mean every address: no client connects to them by that name."""
TOKEN_FILE: Final = "token"
KUBECONFIG_FILE: Final = "kubeconfig"
CERT_FILE: Final = "tls/server.crt"
KEY_FILE: Final = "tls/server.key"

PUBLIC_PREFIXES: Final = (
    "/brokers/",
    "/channels/",
    "/transforms/",
    "/integrationsinks/",
    "/requestreplies/",
    "/jobsinks/",
    "/serving/",
    "/services/",
    "/healthz",
    "/readyz",
    "/livez",
)
"""Paths served without a token: the data plane and health checks."""
CONSOLE_FILES: Final = (
    "main.js",
    "core.js",
    "topology.js",
    "details.js",
    "live.js",
    "services.js",
    "deadletters.js",
    "console.css",
)
"""The console's script modules and style (kawa/console/static/, beside its index.html)."""
OIDC_PATHS: Final = ("/.well-known/openid-configuration", "/openid/v1/jwks")
"""The OIDC issuer's discovery document and key set (:mod:`kawa.apiserver.oidc`)."""
PUBLIC_PATHS: Final = frozenset(
    {"/console", "/console/", *OIDC_PATHS} | {f"/console/static/{name}" for name in CONSOLE_FILES}
)
"""The web console's page and its static files (:mod:`kawa.console.server`): they hold no
data, and the page asks for the token itself. Its live-events and numbers endpoints
(``/console/events/...``, ``/console/numbers/...``) need the token as the API does. And the
OIDC discovery documents (:data:`OIDC_PATHS`): public keys, which whoever verifies a
ServiceAccount token fetches without credentials, as from Kubernetes."""


def _write_private(path: Path, data: bytes) -> None:
    files.write_private(path, data)  # 0600, in a directory made 0700 (tls/)


def ensure_token(data_dir: Path) -> str:
    """The data dir's token, created on first use."""
    path = data_dir / TOKEN_FILE
    if path.exists():
        token = path.read_text(encoding="ascii").strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    _write_private(path, token.encode("ascii") + b"\n")
    return token


def read_token(data_dir: Path) -> str | None:
    try:
        return (data_dir / TOKEN_FILE).read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def ensure_certificate(data_dir: Path, host: str, advertised: str = "") -> tuple[Path, Path]:
    """The data dir's self-signed certificate and key (created on first use, or when the
    bind ``host`` or the ``advertised`` address is not among its names)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = data_dir / CERT_FILE, data_dir / KEY_FILE
    names = {"127.0.0.1", "localhost", "kubernetes.default.svc", host}
    names |= {advertised} if advertised else set()
    if cert_path.exists() and key_path.exists():
        existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = existing.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        covered = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
        covered |= set(san.get_values_for_type(x509.DNSName))
        if names - set(WILDCARDS) <= covered:
            return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for name in sorted(names):
        if name in WILDCARDS:
            continue
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kawa")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    return context


def data_plane_ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The data plane's HTTPS listener (transport-encryption): kawa's certificate, TLS 1.3 at
    least, as Knative's."""
    context = server_ssl_context(cert, key)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    return context


def kubeconfig(api_url: str, token: str, ca_pem: bytes) -> str:
    """A kubeconfig for kubectl and the Kubernetes clients."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kawa",
                "cluster": {
                    "server": api_url,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode("ascii"),
                },
            }
        ],
        "users": [{"name": "kawa", "user": {"token": token}}],
        "contexts": [
            {
                "name": "kawa",
                "context": {"cluster": "kawa", "user": "kawa", "namespace": "default"},
            }
        ],
        "current-context": "kawa",
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_kubeconfig(
    data_dir: Path, api_url: str, token: str, cert: Path, advertised: str = "127.0.0.1"
) -> Path:
    """The data dir's kubeconfig for ``api_url``; a wildcard host there (kawa listens on
    every address) is written as ``advertised``, an address kubectl can reach."""
    path = data_dir / KUBECONFIG_FILE
    server = client_url(api_url, advertised)
    _write_private(path, kubeconfig(server, token, cert.read_bytes()).encode())
    return path


def client_url(url: str, advertised: str) -> str:
    """``url`` with a wildcard bind address (``0.0.0.0``, ``::``) replaced by ``advertised``."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in WILDCARDS:
        return url
    host = f"[{advertised}]" if ":" in advertised else advertised
    return parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host).geturl()


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization`` header value ``Bearer <token>`` (the scheme in any
    case, RFC 7235 section 2.1), ``None`` for any other."""
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]


def token_middleware(token: str) -> Middleware:
    """401 for API requests without ``Authorization: Bearer <token>``."""
    from kawa.transport.front import front_door

    return front_door([], token_guard(token))


def token_guard(token: str, *, signed: Callable[[web.Request], bool] | None = None) -> Guard:
    """The refusal (401) of an API request without ``Authorization: Bearer <token>``.
    Requests ``signed`` claims carry credentials of their own, which their handler verifies
    before anything else (a kubelet hop from another kawa:
    :meth:`kawa.serving.kubelet.proxy.KubeletProxy.signed`)."""
    from kawa.apiserver.status import error_response

    expected = token.encode()

    def check(request: web.Request) -> web.StreamResponse | None:
        path = request.path
        if path.startswith(PUBLIC_PREFIXES) or path in PUBLIC_PATHS:
            return None
        if signed is not None and signed(request):
            return None
        given = (bearer_token(request.headers.get("Authorization", "")) or "").encode()
        if not given or not hmac.compare_digest(given, expected):
            refused = UnauthorizedError("Unauthorized: a valid bearer token is required")
            return error_response(refused)
        return None

    return check
