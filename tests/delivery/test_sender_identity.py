"""A delivery sent as an OIDC identity (authentication-oidc): the identity's token for the
receiver's audience goes out as ``Authorization: Bearer``, to the subscriber and to the
dead-letter sink, each with its own audience; none without an identity or an audience; a
token that cannot be had fails the delivery (and so sends it the way of any failure)."""

from __future__ import annotations

from kawa.cloudevents.event import CloudEvent
from kawa.delivery.policy import RetryPolicy
from kawa.delivery.sender import DeliveryResult, Dispatcher, Identity
from kawa.errors import KawaError

from .delivery_support import Receiver, reply

EVENT = CloudEvent({"specversion": "1.0", "id": "e1", "source": "/s", "type": "t"}, b"")
ONCE = RetryPolicy(retry=0)
SENDER = Identity("team-a", "t-oidc-eventing.knative.dev-trigger")


async def tokens(namespace: str, service_account: str, audience: str) -> str:
    if audience == "nobody":
        raise KawaError("no such audience")
    return f"token:{namespace}:{service_account}:{audience}"


async def test_the_identitys_token_for_each_receivers_audience(
    subscriber: Receiver, dls: Receiver
) -> None:
    async with Dispatcher(tokens=tokens, default_timeout=5.0) as dispatcher:
        sent = await dispatcher.send(
            EVENT,
            subscriber.url,
            policy=ONCE,
            headers={"Authorization": "Bearer the-senders-own"},  # never forwarded
            identity=SENDER,
            audience="eventing.knative.dev/broker/team-a/target",
        )
        assert sent.ok
        failed = DeliveryResult(ok=False, status=500, attempts=1)
        dead = await dispatcher.dead_letter(
            EVENT,
            dls.url,
            failed,
            subscriber.url,
            policy=ONCE,
            identity=SENDER,
            audience="dls-audience",
        )
        assert dead.ok
    account = "team-a:t-oidc-eventing.knative.dev-trigger"
    assert subscriber.requests[0].headers["authorization"] == (
        f"Bearer token:{account}:eventing.knative.dev/broker/team-a/target"
    )
    assert dls.requests[0].headers["authorization"] == f"Bearer token:{account}:dls-audience"


async def test_no_token_without_an_identity_or_an_audience(subscriber: Receiver) -> None:
    async with Dispatcher(tokens=tokens, default_timeout=5.0) as dispatcher:
        await dispatcher.send(EVENT, subscriber.url, policy=ONCE, audience="a")
        await dispatcher.send(EVENT, subscriber.url, policy=ONCE, identity=SENDER)
    assert [r.headers.get("authorization") for r in subscriber.requests] == [None, None]


async def test_a_token_that_cannot_be_had_fails_the_delivery_without_sending(
    subscriber: Receiver,
) -> None:
    async with Dispatcher(tokens=tokens, default_timeout=5.0) as dispatcher:
        result = await dispatcher.send(
            EVENT, subscriber.url, policy=ONCE, identity=SENDER, audience="nobody"
        )
    assert not result.ok
    assert result.error is not None
    assert "no OIDC token: no such audience" in result.error
    assert subscriber.requests == []


async def test_each_attempt_asks_for_the_current_token(subscriber: Receiver) -> None:
    """A retry after a backoff sends the token the source gives then (a renewed one), and a
    token that cannot be had for one attempt is a failed attempt, retried."""
    given = iter(["first", "second"])

    async def changing(namespace: str, service_account: str, audience: str) -> str:
        token = next(given, None)
        if token is None:
            raise KawaError("the issuer is away")
        return token

    subscriber.script(reply(500))  # the first attempt fails, the second is taken
    retrying = RetryPolicy(retry=2, backoff_policy="linear", backoff_delay=0.01)
    async with Dispatcher(tokens=changing, default_timeout=5.0) as dispatcher:
        result = await dispatcher.send(
            EVENT, subscriber.url, policy=retrying, identity=SENDER, audience="a"
        )
    assert result.ok
    assert [r.headers.get("authorization") for r in subscriber.requests] == [
        "Bearer first",
        "Bearer second",
    ]
