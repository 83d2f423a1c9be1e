"""Broker ingress over real HTTP: the Knative status codes, size limits and the TTL rule."""

from __future__ import annotations

from pathlib import Path

from kawa.cloudevents import http as ce_http

from .broker_support import broker, event, running_kawa


async def test_ingress_status_codes(tmp_path: Path) -> None:
    async with running_kawa(tmp_path, max_event_size=100_000) as kawa:
        await kawa.apply(broker())
        ready = await kawa.wait_ready("Broker", "default")
        assert ready["status"]["address"]["url"] == kawa.broker_url()
        s = kawa.ingress
        # a valid event: 202
        assert await kawa.send(event("a")) == 202
        assert await kawa.send(event("b"), structured=True) == 202
        # unknown broker: 404
        assert await kawa.send(event("c"), broker_name="nope") == 404
        # other methods: 405, OPTIONS answered
        async with s.get(kawa.broker_url()) as resp:
            assert resp.status == 405
            assert resp.headers["Allow"] == "POST, OPTIONS"
        async with s.put(kawa.broker_url(), data=b"") as resp:
            assert resp.status == 405
        async with s.options(kawa.broker_url()) as resp:
            assert resp.status == 200
            assert "POST" in resp.headers["Allow"]
        # not a CloudEvent (no ce-specversion): 400 with the reason
        async with s.post(
            kawa.broker_url(), data=b"{}", headers={"ce-id": "1", "ce-type": "t", "ce-source": "/"}
        ) as resp:
            assert resp.status == 400
            assert "specversion" in await resp.text()
        # 64 KB passes; above the configured limit: 413 (with and without Content-Length)
        big = event("big", data=b"x" * 65_536, datacontenttype="text/plain")
        assert await kawa.send(big) == 202
        headers, _ = ce_http.to_binary(event("huge", datacontenttype="text/plain"))
        async with s.post(kawa.broker_url(), data=b"x" * 200_000, headers=headers) as resp:
            assert resp.status == 413

        async def chunks() -> object:
            for _ in range(30):
                yield b"y" * 10_000

        async with s.post(kawa.broker_url(), data=chunks(), headers=headers) as resp:
            assert resp.status == 413


async def test_ttl_exhausted_is_refused(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        await kawa.apply(broker())
        await kawa.wait_ready("Broker", "default")
        assert await kawa.send(event("a", knativebrokerttl="1")) == 400
        assert await kawa.send(event("b", knativebrokerttl="2")) == 202
        assert await kawa.send(event("c", knativebrokerttl="soon")) == 400


async def test_structured_data_nested_too_deeply_is_a_400_naming_the_limit(
    tmp_path: Path,
) -> None:
    """Data nesting 255 to 1023 levels once answered 500 (orjson's recursion limit)."""
    head = b'{"specversion":"1.0","id":"deep","source":"/s","type":"t","data":'
    structured = {"Content-Type": "application/cloudevents+json"}
    async with running_kawa(tmp_path) as kawa:
        await kawa.apply(broker())
        await kawa.wait_ready("Broker", "default")
        for levels, status in ((199, 202), (200, 400), (300, 400), (1023, 400), (5000, 400)):
            body = head + b"[" * levels + b"]" * levels + b"}"
            async with kawa.ingress.post(kawa.broker_url(), data=body, headers=structured) as r:
                assert r.status == status, (levels, await r.text())
                if status == 400:
                    answer = await r.json()
                    assert answer["error"].endswith("nested too deeply (more than 199 levels)")
