"""The seed tutorial, verbatim, with Knative's security flags on (issue 19's must-hold):
``authentication-oidc: enabled`` (the ApiServerSource presents its own token to the Broker's
ingress, which refuses requests without one), ``default-authorization-mode`` left at
``allow-same-namespace`` (the source's identity is of the Broker's namespace) and
``transport-encryption: strict`` (the Broker's address is https: the source delivers over
TLS). A kawa of its own: the flags are cluster-wide."""

from __future__ import annotations

import http.client
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ..kubectl.kubectl_support import Kubectl
from ..kubectl.test_seed import seed_runs_verbatim
from .e2e_support import KawaProcess
from .flags_support import kawa, kubectl, set_flag

pytestmark = pytest.mark.slow

__all__ = ["kawa", "kubectl"]  # the module's fixtures


def status_without_token(url: str, ca_certs: str) -> int:
    """A POST to ``url`` (https, verified against ``ca_certs``) with no token: its status."""
    parts = urlsplit(url)
    context = ssl.create_default_context(cadata=ca_certs)
    conn = http.client.HTTPSConnection(str(parts.hostname), parts.port, context=context)
    try:
        conn.request(
            "POST",
            parts.path,
            body=b"{}",
            headers={"ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s", "ce-type": "t"},
        )
        return conn.getresponse().status
    finally:
        conn.close()


def test_the_seed_tutorial_runs_verbatim_with_oidc_and_strict_tls(
    kawa: KawaProcess, kubectl: Kubectl, tmp_path: Path
) -> None:
    set_flag(kubectl, "authentication-oidc", "enabled")
    set_flag(kubectl, "transport-encryption", "strict")
    seed_runs_verbatim(kubectl, tmp_path)
    # and it really ran secured: the Broker's address is https, its audience published, the
    # source sent as its own ServiceAccount, and the ingress refuses a sender without a token
    broker = kubectl.json("get", "broker", "default")["status"]["address"]
    assert broker["url"].startswith("https://")
    assert broker["audience"] == "eventing.knative.dev/broker/default/default"
    source = kubectl.json("get", "apiserversources.sources.knative.dev", "testevents")
    assert source["status"]["auth"]["serviceAccountName"] == (
        "testevents-oidc-sources.knative.dev-apiserversource"
    )
    assert source["status"]["sinkUri"].startswith("https://")
    assert status_without_token(broker["url"], broker["CACerts"]) == 401
    # and plain HTTP is refused outright (strict)
    conn = http.client.HTTPConnection("127.0.0.1", kawa.port, timeout=10)
    try:
        headers = {"ce-specversion": "1.0", "ce-id": "y", "ce-source": "/s", "ce-type": "t"}
        conn.request("POST", "/brokers/default/default", body=b"{}", headers=headers)
        assert conn.getresponse().status == 403
    finally:
        conn.close()
