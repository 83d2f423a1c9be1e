"""transport-encryption end to end, with the real kubectl and a kawa of its own (the flag is
cluster-wide).

``disabled`` (Knative's default): Brokers publish their http address only. ``permissive``:
``status.addresses`` lists the http address (still ``status.address``) and an https one on
kawa's data-plane HTTPS port with the ``CACerts`` it verifies against; a POST over HTTPS that
verifies with exactly those certificates gets 202, a TLS 1.2 client is refused; senders (a
Trigger whose subscriber is another Broker) take the https address, plain HTTP is still
taken. ``strict``: ``status.address`` is the https one, the plain-HTTP ingress refuses with
403, and the Trigger delivers over HTTPS (kawa trusts its own certificate).
"""

from __future__ import annotations

import http.client
import itertools
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ..kubectl.kubectl_support import Kubectl
from ..waiting import wait_until
from .e2e_support import KawaProcess, event_display, read_text, run_cli
from .flags_support import apply_chained_brokers, kawa, kubectl, set_flag

pytestmark = pytest.mark.slow

_ids = itertools.count(1)

__all__ = ["kawa", "kubectl"]  # the module's fixtures


def set_mode(kubectl: Kubectl, mode: str) -> None:
    set_flag(kubectl, "transport-encryption", mode)


def status(kubectl: Kubectl, name: str) -> dict[str, Any]:
    return dict(kubectl.json("get", "broker", name).get("status") or {})


def post_https(url: str, context: ssl.SSLContext) -> tuple[int, str]:
    """POST a CloudEvent to ``url`` over HTTPS: (status, event id)."""
    event_id = f"tls-{next(_ids)}"
    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(str(parts.hostname), parts.port, context=context, timeout=30)
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/e2e/tls",
        "ce-type": "e2e.tls",
        "content-type": "application/json",
    }
    try:
        conn.request("POST", parts.path, body=b"{}", headers=headers)
        return conn.getresponse().status, event_id
    finally:
        conn.close()


def post_plain(url: str) -> tuple[int, str]:
    """POST a CloudEvent over plain HTTP: (status, body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=30)
    headers = {"ce-specversion": "1.0", "ce-id": "plain", "ce-source": "/s", "ce-type": "t"}
    try:
        conn.request("POST", parts.path, body=b"{}", headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_transport_encryption_permissive_then_strict(
    kawa: KawaProcess, kubectl: Kubectl, tmp_path: Path
) -> None:
    with event_display(tmp_path) as (display_url, display_out):
        apply_chained_brokers(kubectl, display_url)
        http_url = status(kubectl, "default")["address"]["url"]
        assert http_url.startswith("http://")
        assert "addresses" not in status(kubectl, "default")  # disabled: Knative's default

        set_mode(kubectl, "permissive")
        wait_until(
            lambda: len(status(kubectl, "default").get("addresses") or []) == 2,
            30,
            "the broker never listed its https address",
        )
        current = status(kubectl, "default")
        plain, secure = current["addresses"]
        assert plain == {"name": "http", "url": http_url}
        assert current["address"] == plain  # permissive: http stays the address
        assert secure["name"] == "https"
        assert secure["url"].startswith("https://")
        assert secure["url"].endswith("/brokers/default/default")
        assert "BEGIN CERTIFICATE" in secure["CACerts"]

        # verifying with exactly the published certificates
        context = ssl.create_default_context(cadata=secure["CACerts"])
        code, accepted = post_https(secure["url"], context)
        assert code == 202
        wait_until(
            lambda: f"id: {accepted}\n" in read_text(display_out),
            30,
            "the event sent over HTTPS never arrived",
        )
        # permissive: senders take the https address (the trigger's subscriber is the other
        # broker), and plain HTTP is still taken
        wait_until(
            lambda: (
                kubectl.json("get", "trigger", "forward")["status"]
                .get("subscriberUri", "")
                .startswith("https://")
            ),
            30,
            "permissive: the trigger never resolved the https address",
        )
        assert post_plain(http_url)[0] == 202
        old = ssl.create_default_context(cadata=secure["CACerts"])
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            post_https(secure["url"], old)

        set_mode(kubectl, "strict")
        wait_until(
            lambda: status(kubectl, "target")["address"]["url"].startswith("https://"),
            30,
            "strict never made the https address the address",
        )
        assert [a["name"] for a in status(kubectl, "target")["addresses"]] == ["https"]
        wait_until(
            lambda: (
                kubectl.json("get", "trigger", "forward")["status"]
                .get("subscriberUri", "")
                .startswith("https://")
            ),
            30,
            "the trigger never resolved the https address",
        )
        # kawa send --broker follows the https address, trusting kawa's certificate
        sent = run_cli(
            "send", "--broker", "default", "--type", "e2e.tls", "--id", "cli-1",
            "--data-dir", str(kawa.data_dir), cwd=kawa.workdir,
        )  # fmt: skip
        assert sent.code == 0, sent.explain()
        assert sent.stdout.strip() == "202 Accepted"
        # strict: the plain-HTTP ingress refuses, saying where to go
        plain_code, plain_body = post_plain(http_url)
        assert plain_code == 403, plain_body
        assert "takes events only over HTTPS" in plain_body
        # the trigger delivers to the target broker over HTTPS
        code, forwarded = post_https(secure["url"], context)
        assert code == 202
        wait_until(
            lambda: f"id: {forwarded}\n" in read_text(display_out),
            30,
            "the event never travelled over the https subscriber",
        )
        set_mode(kubectl, "disabled")
