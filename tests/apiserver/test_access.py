"""The API needs the bearer token (over HTTP and HTTPS); the broker ingress does not."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import aiohttp
import yaml

from kawa.apiserver import access
from kawa.cloudevents import http as ce_http

from ..broker.broker_support import broker, event, running_kawa


async def test_token_tls_and_kubeconfig(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        token = access.read_token(tmp_path)
        assert token
        assert (tmp_path / "token").stat().st_mode & 0o077 == 0
        path = "/apis/eventing.knative.dev/v1/namespaces/default/brokers"
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(kawa.url + path) as resp:
                assert resp.status == 401
                body = await resp.json()
                assert body["kind"] == "Status"
                assert body["reason"] == "Unauthorized"
            async with anonymous.get(
                kawa.url + path, headers={"Authorization": "Bearer wrong"}
            ) as resp:
                assert resp.status == 401
            async with anonymous.get(kawa.url + "/version") as resp:
                assert resp.status == 401
        # the data plane needs no token
        await kawa.apply(broker())
        await kawa.wait_ready("Broker", "default")
        headers, body = ce_http.to_binary(event("x"))
        async with (
            aiohttp.ClientSession() as anonymous,
            anonymous.post(kawa.broker_url(), data=body, headers=headers) as resp,
        ):
            assert resp.status == 202

        # the kubeconfig: HTTPS, the certificate as CA, the token
        config = yaml.safe_load((tmp_path / "kubeconfig").read_text())
        cluster = config["clusters"][0]["cluster"]
        assert cluster["server"].startswith("https://127.0.0.1:")
        assert config["users"][0]["user"]["token"] == token
        ca = ssl.create_default_context(cafile=str(tmp_path / access.CERT_FILE))
        async with aiohttp.ClientSession() as client:
            async with client.get(
                cluster["server"] + path, ssl=ca, headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 200
                assert [b["metadata"]["name"] for b in (await resp.json())["items"]] == ["default"]
            async with client.get(cluster["server"] + path, ssl=ca) as resp:
                assert resp.status == 401


async def test_token_and_certificate_are_kept_across_restarts(tmp_path: Path) -> None:
    async with running_kawa(tmp_path):
        token = access.read_token(tmp_path)
        cert = (tmp_path / access.CERT_FILE).read_bytes()
    async with running_kawa(tmp_path):
        assert access.read_token(tmp_path) == token
        assert (tmp_path / access.CERT_FILE).read_bytes() == cert


async def test_a_wildcard_host_is_named_by_the_advertised_address(tmp_path: Path) -> None:
    """``kawa up --host 0.0.0.0 --advertise-address A``, as the README's scale-out recipe
    runs it: the kubeconfig, server.json and status URLs name ``A`` (no client connects to
    ``0.0.0.0`` on another machine), and the certificate covers it: the real kubectl works."""
    async with running_kawa(tmp_path, host="0.0.0.0", advertise_address="127.0.0.7") as kawa:
        assert kawa.url.startswith("http://127.0.0.7:"), kawa.url
        server = yaml.safe_load((tmp_path / "kubeconfig").read_text())["clusters"][0]
        assert server["cluster"]["server"].startswith("https://127.0.0.7:"), server
        await kawa.apply(broker())
        ready = await kawa.wait_ready("Broker", "default")
        assert ready["status"]["address"]["url"].startswith("http://127.0.0.7:"), ready
        done = await asyncio.to_thread(
            subprocess.run,
            [
                "kubectl",
                "--kubeconfig",
                str(tmp_path / "kubeconfig"),
                "get",
                "brokers",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert (done.returncode, done.stdout) == (0, "broker.eventing.knative.dev/default\n"), done


def test_client_url_names_the_advertised_address_for_a_wildcard() -> None:
    assert access.client_url("https://0.0.0.0:7443", "10.0.0.1") == "https://10.0.0.1:7443"
    assert access.client_url("https://[::]:7443", "fd00::1") == "https://[fd00::1]:7443"
    assert access.client_url("https://127.0.0.2:7443", "10.0.0.1") == "https://127.0.0.2:7443"


def test_the_certificate_is_made_again_for_a_new_advertised_address(tmp_path: Path) -> None:
    from cryptography import x509

    def names() -> set[str]:
        cert = x509.load_pem_x509_certificate((tmp_path / access.CERT_FILE).read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}

    access.ensure_certificate(tmp_path, "0.0.0.0")
    assert names() == {"127.0.0.1"}
    access.ensure_certificate(tmp_path, "0.0.0.0", "10.0.0.1")
    assert names() == {"127.0.0.1", "10.0.0.1"}
