"""The pure retry policy: attempts, retry classification, backoff and Retry-After."""

from __future__ import annotations

import email.utils

import pytest

from kawa.apis.duck import DeliverySpec, parse_delivery
from kawa.delivery import policy
from kawa.delivery.policy import RetryPolicy, parse_retry_after, should_retry
from kawa.errors import ValidationError

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (None, True),
        (100, False),
        (200, False),
        (201, False),
        (202, False),
        (204, False),
        (301, False),
        (302, False),
        (307, False),
        (400, False),
        (401, False),
        (403, False),
        (404, True),
        (405, False),
        (408, True),
        (409, True),
        (410, False),
        (413, False),
        (422, False),
        (429, True),
        (500, True),
        (501, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
    ],
)
def test_retry_classification(status: int | None, retried: bool) -> None:
    assert should_retry(status) is retried


@pytest.mark.parametrize("retry", [0, 1, 3, 10])
def test_attempts_is_retry_plus_one(retry: int) -> None:
    assert RetryPolicy(retry=retry).attempts == retry + 1


def test_linear_backoff() -> None:
    p = RetryPolicy(retry=5, backoff_policy="linear", backoff_delay=0.5)
    assert [p.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 1.5, 2.0, 2.5]


def test_exponential_backoff() -> None:
    p = RetryPolicy(retry=5, backoff_policy="exponential", backoff_delay=0.2)
    assert [p.backoff(n) for n in range(1, 6)] == pytest.approx([0.4, 0.8, 1.6, 3.2, 6.4])


def test_no_backoff_delay_means_no_wait() -> None:
    p = RetryPolicy(retry=3, backoff_policy="exponential", backoff_delay=None)
    assert [p.backoff(n) for n in (1, 2, 3)] == [0.0, 0.0, 0.0]


def test_retry_after_ignored_without_retry_after_max() -> None:
    p = RetryPolicy(retry=3, backoff_policy="linear", backoff_delay=1.0)
    assert p.delay_before_retry(1, 429, "30", NOW) == 1.0
    assert p.delay_before_retry(1, 503, "30", NOW) == 1.0


def test_retry_after_honoured_on_429_and_503_only() -> None:
    p = RetryPolicy(retry=3, backoff_policy="linear", backoff_delay=1.0, retry_after_max=60.0)
    assert p.delay_before_retry(1, 429, "30", NOW) == 30.0
    assert p.delay_before_retry(1, 503, "30", NOW) == 30.0
    assert p.delay_before_retry(1, 500, "30", NOW) == 1.0
    assert p.delay_before_retry(1, 404, "30", NOW) == 1.0
    assert p.delay_before_retry(1, None, "30", NOW) == 1.0


def test_retry_after_capped_by_retry_after_max() -> None:
    p = RetryPolicy(retry=3, backoff_policy="linear", backoff_delay=1.0, retry_after_max=5.0)
    assert p.delay_before_retry(1, 429, "3600", NOW) == 5.0


def test_retry_after_max_zero_ignores_header() -> None:
    p = RetryPolicy(retry=3, backoff_policy="linear", backoff_delay=1.0, retry_after_max=0.0)
    assert p.delay_before_retry(2, 429, "30", NOW) == 2.0


def test_wait_is_the_larger_of_backoff_and_retry_after() -> None:
    p = RetryPolicy(retry=5, backoff_policy="exponential", backoff_delay=1.0, retry_after_max=60)
    assert p.delay_before_retry(4, 429, "3", NOW) == 16.0  # backoff wins
    assert p.delay_before_retry(1, 429, "3", NOW) == 3.0  # Retry-After wins


def test_retry_after_http_date() -> None:
    p = RetryPolicy(retry=1, backoff_delay=0.1, backoff_policy="linear", retry_after_max=100)
    date = email.utils.formatdate(NOW + 42, usegmt=True)
    assert p.delay_before_retry(1, 503, date, NOW) == pytest.approx(42.0)


def test_retry_after_unreadable_falls_back_to_backoff() -> None:
    p = RetryPolicy(retry=1, backoff_delay=0.1, backoff_policy="linear", retry_after_max=100)
    assert p.delay_before_retry(1, 503, "soon", NOW) == pytest.approx(0.1)
    assert p.delay_before_retry(1, 503, "-5", NOW) == pytest.approx(0.1)
    assert p.delay_before_retry(1, 503, "1.5", NOW) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),  # in the past
        ("not a date", None),
        ("", None),
    ],
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    "form",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
)
def test_parse_retry_after_all_http_date_forms(form: str) -> None:
    epoch = 784111777.0  # 1994-11-06T08:49:37Z
    assert parse_retry_after(form, epoch - 10) == pytest.approx(10.0)


def test_invalid_policy_lists_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        RetryPolicy(
            retry=-1,
            backoff_policy="fibonacci",  # type: ignore[arg-type]
            backoff_delay=-1.0,
            retry_after_max=-2,
        )
    paths = [e.path for e in info.value.errors]
    assert paths == ["retry", "backoffPolicy", "backoffDelay", "retryAfterMax"]


def test_zero_timeout_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        RetryPolicy(timeout=0.0)
    assert [e.path for e in info.value.errors] == ["timeout"]


def test_broker_defaults_when_no_delivery_spec() -> None:
    p = policy.policy_from_delivery(None)
    assert p == RetryPolicy(retry=10, backoff_policy="exponential", backoff_delay=0.2)
    assert p.attempts == 11


def test_policy_from_a_full_delivery_spec() -> None:
    spec = parse_delivery(
        {
            "retry": 3,
            "backoffPolicy": "linear",
            "backoffDelay": "PT0.5S",
            "timeout": "PT2S",
            "retryAfterMax": "PT1M",
            "deadLetterSink": {"uri": "http://dls.example/"},
            "format": "json",
        },
        namespace="default",
    )
    assert policy.policy_from_delivery(spec) == RetryPolicy(
        retry=3, backoff_policy="linear", backoff_delay=0.5, timeout=2.0, retry_after_max=60.0
    )


def test_policy_from_an_empty_delivery_spec_does_not_retry() -> None:
    p = policy.policy_from_delivery(DeliverySpec())
    assert p == RetryPolicy(retry=0, backoff_policy="exponential")
    assert p.attempts == 1


def test_policy_from_delivery_with_only_dead_letter_sink() -> None:
    spec = parse_delivery({"deadLetterSink": {"uri": "http://d/"}}, namespace="default")
    assert policy.policy_from_delivery(spec).attempts == 1


def test_backoff_delay_without_policy_backs_off_exponentially() -> None:
    p = policy.policy_from_delivery(DeliverySpec(retry=2, backoff_delay=1.0))
    assert [p.backoff(1), p.backoff(2)] == [2.0, 4.0]
