"""The ingress's sender check (authentication-oidc): nothing checked with the flag off; 401
for a request without a bearer token or with one that does not verify for the receiver's
audience, saying which; 403 when the policy decision refuses the sender; the verified
subject is what the decision sees, and what :meth:`SenderCheck.admit` says it let through."""

from __future__ import annotations

import asyncio

import pytest

from kawa.apis import features
from kawa.cloudevents.event import CloudEvent
from kawa.dispatch.senders import Admitted, SenderCheck, bearer_token
from kawa.errors import ForbiddenError, KawaError, UnauthorizedError

EVENT = CloudEvent({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}, b"")
ON = features.from_data({"authentication-oidc": "enabled"})
OFF = features.DEFAULTS


def audience_of(namespace: str, name: str) -> str:
    return features.audience("eventing.knative.dev/v1", "Broker", namespace, name)


async def verify(token: str, audience: str) -> str | None:
    if token == "expired":
        raise UnauthorizedError("the token expired at 2026-12-06T10:00:00Z")
    if token != f"good-for:{audience}":
        raise UnauthorizedError(f"the token is not for the audience {audience}")
    return "system:serviceaccount:ns:sender"


def check(flags: features.Features, seen: list[str | None] | None = None) -> SenderCheck:
    def decide(namespace: str, name: str, subject: str | None, event: CloudEvent) -> None:
        if seen is not None:
            seen.append(subject)
        if event.type == "forbidden":
            raise ForbiddenError(f"no EventPolicy allows {subject}")

    return SenderCheck("broker", lambda: flags, verify, audience_of, decide)


async def test_nothing_is_checked_with_authentication_oidc_off() -> None:
    assert await check(OFF)("ns", "b", {}, EVENT) is None


@pytest.mark.parametrize(
    "authorization", ["", "Basic dXNlcjpwdw==", "Bearer", "Bearer a b", "bearer   "]
)
async def test_no_bearer_token_is_401_naming_the_audience(authorization: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = await check(ON)("ns", "b", headers, EVENT)
    assert answer is not None
    assert answer.status == 401
    text = answer.body.decode()
    assert "broker ns/b takes events only with an OIDC token" in text
    assert "eventing.knative.dev/broker/ns/b" in text


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("expired", "the token expired"),
        ("good-for:eventing.knative.dev/broker/ns/other", "not for the audience"),
    ],
)
async def test_a_token_that_does_not_verify_is_401_saying_why(token: str, says: str) -> None:
    answer = await check(ON)("ns", "b", {"Authorization": f"Bearer {token}"}, EVENT)
    assert answer is not None
    assert answer.status == 401
    assert says in answer.body.decode()


async def test_the_decision_sees_the_subject_and_may_refuse_with_403() -> None:
    seen: list[str | None] = []
    good = {"Authorization": "bearer good-for:eventing.knative.dev/broker/ns/b"}
    assert await check(ON, seen)("ns", "b", good, EVENT) is None
    assert seen == ["system:serviceaccount:ns:sender"]
    refused = await check(ON, seen)("ns", "b", good, EVENT.with_attributes({"type": "forbidden"}))
    assert refused is not None
    assert refused.status == 403
    assert "no EventPolicy allows system:serviceaccount:ns:sender" in refused.body.decode()


async def test_admit_says_whom_it_let_through() -> None:
    """For a receiver that passes the event on in process (a RequestReply into its Broker)
    and checks the same sender there."""
    good = {"Authorization": "Bearer good-for:eventing.knative.dev/broker/ns/b"}
    assert await check(ON).admit("ns", "b", good, EVENT) == Admitted(
        "system:serviceaccount:ns:sender"
    )
    assert await check(OFF).admit("ns", "b", {}, EVENT) == Admitted(None)
    refused = await check(ON).admit("ns", "b", {}, EVENT)
    assert not isinstance(refused, Admitted)
    assert refused.status == 401


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("  BEARER   tok ") == "tok"
    assert bearer_token("Bearer") is None
    assert bearer_token("Token abc") is None


async def test_until_the_flags_are_read_the_ingress_answers_503() -> None:
    """Not 202 as if the flags were Knative's defaults (OIDC off) before they are read."""
    starting = SenderCheck("broker", lambda: OFF, verify, audience_of, None, ready=lambda: False)
    answer = await starting("ns", "b", {}, EVENT)
    assert answer is not None
    assert answer.status == 503
    assert "kawa is starting" in answer.body.decode()


async def test_replies_put_straight_into_a_receiver_pass_its_authorization() -> None:
    """A Trigger's reply into its broker, a Subscription's into another channel: with OIDC on,
    the receiver's policies (none here: the default mode) decide on the sender's identity."""
    from kawa.broker.oidc import DataPlaneIdentity
    from kawa.identity.keyring import SigningKeys
    from kawa.store.sqlite import SqliteResourceStore

    store = SqliteResourceStore(":memory:")
    try:
        identity = DataPlaneIdentity(store, SigningKeys(store))
        check = identity.reply_check("channel", lambda namespace, name: ())
        identity.features.current = features.from_data({"authentication-oidc": "enabled"})
        await check("ns", "sub-oidc", "ns", "next", EVENT)  # same namespace: allowed
        with pytest.raises(ForbiddenError) as refused:
            await check("ns", "sub-oidc", "elsewhere", "next", EVENT)
        assert "channel elsewhere/next" in str(refused.value)
        with pytest.raises(ForbiddenError):
            await check("ns", "", "ns", "next", EVENT)  # no identity yet: no subject
        identity.features.current = features.from_data(
            {"authentication-oidc": "enabled", "default-authorization-mode": "deny-all"}
        )
        with pytest.raises(ForbiddenError):
            await check("ns", "sub-oidc", "ns", "next", EVENT)
        identity.features.current = OFF
        await check("ns", "", "elsewhere", "next", EVENT)  # OIDC off: nothing checked
    finally:
        await store.close()


async def test_a_verified_subject_passes_the_receivers_authorization() -> None:
    """What a RequestReply's request must pass for its Broker: the Broker's policies (none
    here: the default mode) decide on the requester's subject; nothing with OIDC off."""
    from kawa.broker.oidc import DataPlaneIdentity
    from kawa.identity.keyring import SigningKeys
    from kawa.store.sqlite import SqliteResourceStore

    store = SqliteResourceStore(":memory:")
    try:
        identity = DataPlaneIdentity(store, SigningKeys(store))
        check = identity.subject_check("Broker", lambda namespace, name: ())
        identity.features.current = ON
        check("system:serviceaccount:ns:asker", "ns", "b", EVENT)  # same namespace: allowed
        with pytest.raises(ForbiddenError) as refused:
            check("system:serviceaccount:elsewhere:asker", "ns", "b", EVENT)
        assert "Broker ns/b: " in str(refused.value)
        assert "allow-same-namespace" in str(refused.value)
        with pytest.raises(ForbiddenError):
            check(None, "ns", "b", EVENT)
        identity.features.current = OFF
        check(None, "ns", "b", EVENT)
    finally:
        await store.close()


async def test_a_senders_token_is_minted_once_for_concurrent_deliveries() -> None:
    from kawa.broker.oidc import DataPlaneIdentity
    from kawa.identity.keyring import SigningKeys
    from kawa.store.base import ResourceKey
    from kawa.store.sqlite import SqliteResourceStore

    store = SqliteResourceStore(":memory:")
    try:
        await store.create(
            ResourceKey("serviceaccounts", "ns", "sender"),
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sender"}},
        )
        identity = DataPlaneIdentity(store, SigningKeys(store))
        minted = await asyncio.gather(*(identity.token("ns", "sender", "aud") for _ in range(20)))
        assert len(set(minted)) == 1  # each mint has its own jti: one mint for all
        assert await identity.token("ns", "sender", "aud") == minted[0]  # kept
        with pytest.raises(KawaError, match="does not exist"):
            await identity.token("ns", "nobody", "aud")
    finally:
        await store.close()


async def test_strict_transport_encryption_refuses_plain_http() -> None:
    from kawa.dispatch.ingress import OVER_TLS

    strict = features.from_data({"transport-encryption": "strict"})
    check = SenderCheck("broker", lambda: strict, verify, audience_of)
    refused = await check("ns", "b", {}, EVENT)
    assert refused is not None
    assert refused.status == 403
    assert "takes events only over HTTPS" in refused.body.decode()
    over_tls = OVER_TLS.set(True)
    try:
        assert await check("ns", "b", {}, EVENT) is None
    finally:
        OVER_TLS.reset(over_tls)
    permissive = features.from_data({"transport-encryption": "permissive"})
    assert (
        await SenderCheck("broker", lambda: permissive, verify, audience_of)("ns", "b", {}, EVENT)
        is None
    )
