"""Signed correlation ids (Knative's format ``<id>:<base64url(nonce+AES-GCM(id))>:<index>``):
what one key signs verifies under it, among others, and under no other key; a changed id,
a changed or truncated seal, no index, garbage and overlong values do not verify; an id with
``:`` in it still does."""

from __future__ import annotations

import base64

import pytest

from kawa.requestreply import correlation

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def test_a_signed_id_verifies_under_its_key_and_says_id_and_index() -> None:
    value = correlation.sign("order-1", KEY, 7)
    event_id, sealed, index = value.split(":")
    assert (event_id, index) == ("order-1", "7")
    raw = base64.urlsafe_b64decode(sealed)
    assert len(raw) == correlation.NONCE_SIZE + len("order-1") + 16  # nonce, text, GCM tag
    found = correlation.verify(value, [OTHER, KEY])
    assert found == correlation.Correlation(value, "order-1", 7)


def test_each_signature_is_fresh() -> None:
    assert correlation.sign("a", KEY, 0) != correlation.sign("a", KEY, 0)
    nonce = b"\x00" * correlation.NONCE_SIZE
    assert correlation.sign("a", KEY, 0, nonce=nonce) == correlation.sign("a", KEY, 0, nonce=nonce)


def test_another_key_does_not_verify() -> None:
    value = correlation.sign("order-1", KEY, 0)
    assert correlation.verify(value, [OTHER]) is None
    assert correlation.verify(value, []) is None
    assert correlation.verify(value, [b"short"]) is None  # not an AES key: skipped


def test_an_id_with_colons_verifies() -> None:
    value = correlation.sign("urn:uuid:1234", KEY, 3)
    found = correlation.verify(value, [KEY])
    assert found is not None
    assert (found.event_id, found.index) == ("urn:uuid:1234", 3)


@pytest.mark.parametrize(
    "forge",
    [
        lambda v: "order-2" + v[len("order-1") :],  # the id in front changed
        lambda v: v.replace(":0", ""),  # no index
        lambda v: v.rsplit(":", 1)[0] + ":x",  # an index that is no number
        lambda v: v.split(":")[0] + ":" + v.split(":")[1][:-4] + ":0",  # a truncated seal
        lambda v: "order-1:AAAA:0",  # too short to hold a nonce
        lambda v: "order-1:!!!notbase64:0",
        lambda v: "order-1",
        lambda v: "",
        lambda v: "order-1:" + "A" * 5000 + ":0",
        lambda v: "order-1:ü:0",
    ],
)
def test_forged_or_damaged_ids_do_not_verify(forge: object) -> None:
    value = correlation.sign("order-1", KEY, 0)
    assert callable(forge)
    assert correlation.verify(forge(value), [KEY]) is None


def test_a_new_key_is_an_aes_256_key() -> None:
    key = correlation.new_key()
    assert len(key) == 32
    assert correlation.verify(correlation.sign("x", key, 1), [key]) is not None
