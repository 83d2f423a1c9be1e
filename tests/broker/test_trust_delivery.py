"""Triggers delivering to an https subscriber whose certificate a test CA signed, through a
running kawa (real HTTPS on 127.0.0.1, real API): untrusted, the delivery fails verification
and is dead-lettered; with the CA in a trust-bundle ConfigMap it is delivered, and once the
ConfigMap is deleted new connections fail again; with the CA only in one Trigger's
``spec.subscriber.CACerts`` that Trigger delivers and the other still fails; ``CACerts`` that
are not PEM are refused at admission with the field's path."""

from __future__ import annotations

import base64
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ..tls_support import Authority, certificate_authority, server_context
from ..waiting import eventually
from .broker_support import Kawa, Subscriber, broker, event, running_kawa, subscriber, trigger

BUNDLES = "/api/v1/namespaces/knative-eventing/configmaps"
_ids = itertools.count(1)


@contextlib.asynccontextmanager
async def secure_subscriber(ca: Authority, directory: Path) -> AsyncIterator[Subscriber]:
    """A recording subscriber on https://127.0.0.1 whose certificate ``ca`` signed."""
    sub = Subscriber()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", sub.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(*ca.issue(directory)))
    await site.start()
    host, port = runner.addresses[0][:2]
    sub.url = f"https://{host}:{port}/"
    try:
        yield sub
    finally:
        await runner.cleanup()


async def lands(kawa: Kawa, type_: str, secure: Subscriber, dls: Subscriber) -> str:
    """Send one event of ``type_``: ``"delivered"`` or ``"dead-lettered"``, where it ended."""
    id_ = f"trust-{next(_ids)}"
    assert await kawa.send(event(id_, type_)) == 202

    async def ended() -> str | None:
        if any(e.id == id_ for e in secure.events):
            return "delivered"
        if any(e.id == id_ for e in dls.events):
            return "dead-lettered"
        return None

    return await eventually(ended, 10.0, f"event {id_} ended nowhere")


async def until_it_lands(
    kawa: Kawa, type_: str, secure: Subscriber, dls: Subscriber, where: str
) -> None:
    """Send events of ``type_`` until one ends ``where`` (a ConfigMap's change reaches the
    senders through a watch: a moment later)."""
    for _ in range(50):
        if await lands(kawa, type_, secure, dls) == where:
            return
    raise AssertionError(f"no event of {type_} was {where}")


async def test_trust_bundles_and_subscriber_ca_certs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ca = certificate_authority("subscriber-ca")
    async with (
        running_kawa(tmp_path / "kawa") as kawa,
        secure_subscriber(ca, tmp_path) as secure,
        subscriber() as dls,
    ):
        delivery = {"retry": 0, "deadLetterSink": {"uri": dls.url}}
        await kawa.apply(broker())
        plain = trigger(
            "plain", secure.url, filter={"attributes": {"type": "to.plain"}}, delivery=delivery
        )
        pinned = trigger(
            "pinned", secure.url, filter={"attributes": {"type": "to.pinned"}}, delivery=delivery
        )
        pinned["spec"]["subscriber"]["CACerts"] = ca.pem
        await kawa.apply(plain)
        await kawa.apply(pinned)
        ready = await kawa.wait_ready("Trigger", "pinned")
        assert ready["status"]["subscriberCACerts"] == ca.pem
        assert "subscriberCACerts" not in (await kawa.wait_ready("Trigger", "plain"))["status"]

        # (a) untrusted: verification fails, the event is dead-lettered saying why
        assert await lands(kawa, "to.plain", secure, dls) == "dead-lettered"
        error = base64.b64decode(dls.headers[-1]["ce-knativeerrordata"]).decode()
        assert "CERTIFICATE_VERIFY_FAILED" in error
        assert "trust-bundle" in error
        # (c) the Trigger with the CA in its subscriber's CACerts delivers
        assert await lands(kawa, "to.pinned", secure, dls) == "delivered"

        # (b) the CA in a trust bundle: every sender trusts it, until the bundle is deleted
        bundle: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "subscriber-ca",
                "labels": {"networking.knative.dev/trust-bundle": "true"},
            },
            "data": {"ca.crt": ca.pem, "junk.crt": "not a certificate"},
        }
        async with kawa.session.post(f"{kawa.url}{BUNDLES}", json=bundle) as created:
            assert created.status == 201, await created.text()
        await until_it_lands(kawa, "to.plain", secure, dls, "delivered")
        assert (
            "trust bundle ConfigMap knative-eventing/subscriber-ca: key 'junk.crt' skipped: "
            "not a PEM certificate"
        ) in caplog.text  # and the good key of the same ConfigMap is trusted
        async with kawa.session.delete(f"{kawa.url}{BUNDLES}/subscriber-ca") as deleted:
            assert deleted.status == 200, await deleted.text()
        await until_it_lands(kawa, "to.plain", secure, dls, "dead-lettered")
        assert await lands(kawa, "to.pinned", secure, dls) == "delivered"

        # (d) CACerts that are not PEM: refused at admission, with the field's path
        bad = trigger("bad", secure.url)
        bad["spec"]["subscriber"]["CACerts"] = "not a certificate"
        bad["spec"]["delivery"] = {"deadLetterSink": {"uri": dls.url, "CACerts": "-----"}}
        url = f"{kawa.url}/apis/eventing.knative.dev/v1/namespaces/default/triggers"
        async with kawa.session.post(url, json=bad) as refused:
            status = await refused.json()
            assert refused.status == 422, status
        message = status["message"]
        assert "spec.subscriber.CACerts: not a PEM certificate" in message
        assert "spec.delivery.deadLetterSink.CACerts: not a PEM certificate" in message
        causes = {c["field"] for c in status["details"]["causes"]}
        assert causes == {"spec.subscriber.CACerts", "spec.delivery.deadLetterSink.CACerts"}
