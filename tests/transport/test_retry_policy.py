"""What is retried and how long the transport waits."""

from __future__ import annotations

import email.utils
import random
import time

import pytest

from lunos_integrations.errors import parse_retry_after
from lunos_integrations.transport.retry import retry_delay, should_retry_status


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    assert should_retry_status(status, {})


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
def test_client_errors_are_never_retried_even_if_the_server_says_so(status: int) -> None:
    assert not should_retry_status(status, {"x-should-retry": "true"})


def test_x_should_retry_header_overrides_the_default() -> None:
    assert should_retry_status(418, {"x-should-retry": "true"})
    assert not should_retry_status(503, {"x-should-retry": "false"})
    assert not should_retry_status(418, {})


def test_retry_after_seconds_ms_and_http_date() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    # retry-after-ms is more precise and wins over Retry-After
    assert parse_retry_after({"retry-after-ms": "100", "retry-after": "9"}) == 0.1
    now = time.time()
    date = email.utils.formatdate(now + 5, usegmt=True)
    value = parse_retry_after({"Retry-After": date}, now=now)
    assert value is not None and 3.5 <= value <= 5.0
    past = email.utils.formatdate(now - 100, usegmt=True)
    assert parse_retry_after({"Retry-After": past}, now=now) == 0.0


@pytest.mark.parametrize("bad", ["soon", "-1", "", "Mon, 99 Foo"])
def test_unparseable_retry_after_is_ignored(bad: str) -> None:
    assert parse_retry_after({"Retry-After": bad}) is None


def test_server_requested_wait_is_honoured_but_capped() -> None:
    assert retry_delay(0, {"Retry-After": "2"}, backoff=0.5, cap=30) == 2.0
    assert retry_delay(0, {"Retry-After": "120"}, backoff=0.5, cap=30) == 30.0


def test_exponential_backoff_with_jitter_stays_in_its_band() -> None:
    rng = random.Random(1)
    for attempt in range(6):
        step = min(8.0, 0.5 * 2**attempt)
        for _ in range(50):
            d = retry_delay(attempt, None, backoff=0.5, cap=8.0, rng=rng)
            assert step * 0.5 <= d <= step
    # jitter really varies
    values = {retry_delay(2, {}, backoff=0.5, cap=8.0, rng=rng) for _ in range(20)}
    assert len(values) > 10
