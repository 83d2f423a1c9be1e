"""The API needs the bearer token (over HTTP and HTTPS); the broker ingress does not."""

from __future__ import annotations

import ssl
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
