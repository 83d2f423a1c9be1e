"""Who a delivery to an ``https`` receiver trusts (:mod:`kawa.delivery.trust`), over real TLS
on 127.0.0.1: a receiver whose certificate a test CA signed fails verification until that CA
is trusted, by a trust bundle (and again once the bundle is gone) or by the destination's own
``CACerts`` (for that destination only); ``CACerts`` that are not PEM fail the delivery
clearly. One context per distinct ``CACerts`` value, kept until the bundles change; the pool
never reuses a connection verified under another context."""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import AsyncIterator

import pytest

from kawa.cloudevents.event import CloudEvent
from kawa.delivery.policy import RetryPolicy
from kawa.delivery.sender import Dispatcher
from kawa.delivery.trust import BadCACerts, Trust

from ..tls_support import Authority, certificate_authority, server_context
from .delivery_support import Receiver, Sleeps, serve

EVENT = CloudEvent({"specversion": "1.0", "id": "e1", "source": "/s", "type": "t"}, b"")
ONCE = RetryPolicy(retry=0)


@pytest.fixture(scope="module")
def ca() -> Authority:
    return certificate_authority("subscriber-ca")


@pytest.fixture(scope="module")
def other_ca() -> Authority:
    return certificate_authority("other-ca")


@pytest.fixture(scope="module")
def server_tls(ca: Authority, tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return server_context(*ca.issue(tmp_path_factory.mktemp("tls")))


@pytest.fixture
async def secure(server_tls: ssl.SSLContext) -> AsyncIterator[Receiver]:
    """An https receiver whose certificate ``ca`` signed."""
    async for receiver in serve(Receiver(), ssl_context=server_tls):
        receiver.url = receiver.url.replace("http://", "https://")
        yield receiver


@pytest.fixture
def trust() -> Trust:
    return Trust(system=False)  # loading the system's CAs costs ~50 ms per context


@pytest.fixture
async def sender(trust: Trust, sleeps: Sleeps) -> AsyncIterator[Dispatcher]:
    async with Dispatcher(trust=trust, sleep=sleeps, default_timeout=5.0) as dispatcher:
        yield dispatcher


async def test_an_untrusted_receiver_fails_verification_and_is_dead_lettered(
    sender: Dispatcher, secure: Receiver, dls: Receiver, sleeps: Sleeps
) -> None:
    result = await sender.send(EVENT, secure.url, policy=RetryPolicy(retry=1))
    assert not result.ok
    assert result.attempts == 2  # a connection error: retried per the policy
    assert sleeps  # with the policy's backoff between
    assert result.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert "trust-bundle" in result.error  # how to trust it
    assert "CACerts" in result.error
    assert secure.requests == []
    dead = await sender.dead_letter(EVENT, dls.url, result, secure.url, policy=ONCE)
    assert dead.ok
    data = base64.b64decode(dls.requests[0].headers["ce-knativeerrordata"]).decode()
    assert "CERTIFICATE_VERIFY_FAILED" in data


async def test_a_trust_bundle_verifies_and_new_connections_fail_once_it_is_gone(
    sender: Dispatcher, secure: Receiver, trust: Trust, ca: Authority
) -> None:
    trust.set_bundles({"ca-bundle/ca.crt": ca.pem})
    assert (await sender.send(EVENT, secure.url, policy=ONCE)).ok
    assert (await sender.send(EVENT, secure.url, policy=ONCE)).ok
    assert secure.requests[0].peer == secure.requests[1].peer  # kept alive
    trust.set_bundles({})  # a kept connection, verified under the old trust, is not reused
    result = await sender.send(EVENT, secure.url, policy=ONCE)
    assert not result.ok
    assert "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
    assert len(secure.requests) == 2


async def test_ca_certs_verify_their_destination_only(
    sender: Dispatcher, secure: Receiver, ca: Authority
) -> None:
    pinned = await sender.send(EVENT, secure.url, policy=ONCE, ca_certs=ca.pem)
    assert pinned.ok
    # the same origin without them: the connection the first verified is not taken
    plain = await sender.send(EVENT, secure.url, policy=ONCE)
    assert not plain.ok
    assert "CERTIFICATE_VERIFY_FAILED" in (plain.error or "")
    again = await sender.send(EVENT, secure.url, policy=ONCE, ca_certs=ca.pem)
    assert again.ok
    assert secure.requests[0].peer == secure.requests[1].peer  # its own, kept alive


async def test_ca_certs_add_to_the_trust_bundles(
    sender: Dispatcher, secure: Receiver, trust: Trust, ca: Authority, other_ca: Authority
) -> None:
    """As Knative: a destination's CACerts are appended to the bundles, not instead of them."""
    trust.set_bundles({"ca-bundle/ca.crt": ca.pem})
    assert (await sender.send(EVENT, secure.url, policy=ONCE, ca_certs=other_ca.pem)).ok


async def test_ca_certs_that_are_not_pem_fail_the_delivery_clearly(
    sender: Dispatcher, secure: Receiver, dls: Receiver
) -> None:
    result = await sender.send(EVENT, secure.url, policy=ONCE, ca_certs="not a certificate")
    assert not result.ok
    assert result.error == (
        "the destination's CACerts: not a PEM certificate: expected one or more "
        "'-----BEGIN CERTIFICATE-----' blocks"
    )
    assert secure.requests == []
    # a plain-HTTP destination needs no trust: its CACerts are not looked at
    assert (await sender.send(EVENT, dls.url, policy=ONCE, ca_certs="not a certificate")).ok


# -- Trust: one context per CACerts value, until the bundles change ----------------------------


async def test_one_context_per_ca_certs_value_until_the_bundles_change(
    trust: Trust, ca: Authority, other_ca: Authority
) -> None:
    none = await trust.context()
    assert await trust.context(None) is none
    assert await trust.context("") is none
    pinned = await trust.context(ca.pem)
    assert pinned is not none
    assert await trust.context(ca.pem) is pinned
    assert await trust.context(other_ca.pem) is not pinned

    trust.set_bundles({"b/ca.crt": ca.pem})
    assert trust.generation == 1
    rebuilt = await trust.context(ca.pem)
    assert rebuilt is not pinned
    trust.set_bundles({"b/ca.crt": ca.pem})  # the same bundles: nothing is built again
    assert trust.generation == 1
    assert await trust.context(ca.pem) is rebuilt
    assert trust.bundles == {"b/ca.crt": ca.pem}


async def test_contexts_verify_hosts_and_require_certificates(trust: Trust) -> None:
    context = await trust.context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


async def test_concurrent_first_uses_build_one_context(trust: Trust, ca: Authority) -> None:
    first, second = await asyncio.gather(trust.context(ca.pem), trust.context(ca.pem))
    assert first is second


async def test_the_least_recently_used_context_goes_first(
    ca: Authority, other_ca: Authority
) -> None:
    trust = Trust(system=False, cache_size=2)
    none = await trust.context()
    pinned = await trust.context(ca.pem)
    assert await trust.context() is none  # used last: kept
    await trust.context(other_ca.pem)  # the third: the oldest (ca) goes
    assert await trust.context() is none
    assert await trust.context(ca.pem) is not pinned


async def test_bad_ca_certs_are_refused_every_time(trust: Trust, ca: Authority) -> None:
    broken = ca.pem.replace(ca.pem.splitlines()[3], "!!!!")
    for _ in range(2):
        with pytest.raises(BadCACerts, match="not a PEM certificate"):
            await trust.context(broken)


async def test_a_bundle_that_does_not_load_is_skipped_and_logged(
    trust: Trust, ca: Authority, caplog: pytest.LogCaptureFixture
) -> None:
    """Bundles are checked when read (:mod:`kawa.reconciler.trust_bundles`); one that still
    fails to load is logged and the others are trusted."""
    trust.set_bundles({"bad/ca.crt": "-----BEGIN CERTIFICATE-----\nAAAA\n", "ok/ca.crt": ca.pem})
    with caplog.at_level(logging.WARNING, "kawa.delivery.trust"):
        context = await trust.context()
    assert context.cert_store_stats()["x509_ca"] == 1
    assert "trust bundle bad/ca.crt skipped" in caplog.text


async def test_the_system_cas_are_trusted_by_default() -> None:
    context = await Trust().context()
    stats = context.cert_store_stats()
    default = ssl.create_default_context().cert_store_stats()
    assert stats["x509_ca"] == default["x509_ca"]
