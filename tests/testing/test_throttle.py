"""``Throttle``: the local server's gateway-style refusals, on a fake clock and over HTTP."""

from __future__ import annotations

import httpx
import pytest

from lunos_integrations.testing import LocalLunosServer, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


AUTH_A = {"authorization": "Bearer key-a"}
AUTH_B = {"authorization": "Bearer key-b"}


def test_token_bucket_per_key_with_burst_and_refill() -> None:
    clock = Clock()
    throttle = Throttle(rate=10, burst=3, retry_after=2, clock=clock)
    verdicts = [throttle.enter("POST", AUTH_A) for _ in range(5)]
    refused = [v for v in verdicts if v is not None and v.refusal is not None]
    assert len(refused) == 2
    assert refused[0].refusal is not None and refused[0].refusal.headers["Retry-After"] == "2"
    other = throttle.enter("POST", AUTH_B)  # another key has its own bucket
    assert other is not None and other.refusal is None
    clock.now += 0.1  # one token back
    again = throttle.enter("POST", AUTH_A)
    assert again is not None and again.refusal is None
    assert (throttle.admitted, throttle.refused, throttle.failed) == (5, 2, 0)
    assert throttle.arrivals("refused") == [0.0, 0.0]
    assert throttle.per_window(0.05) == [6, 0, 1]


def test_no_retry_after_header_unless_asked_and_gets_pass() -> None:
    throttle = Throttle(rate=1, burst=1, clock=Clock())
    assert throttle.enter("GET", AUTH_A) is None  # catalog / balance: not throttled
    throttle.enter("POST", AUTH_A)
    refused = throttle.enter("POST", AUTH_A)
    assert refused is not None and refused.refusal is not None
    assert "Retry-After" not in refused.refusal.headers


def test_inflight_cap_counts_until_leave() -> None:
    throttle = Throttle(max_inflight=2, clock=Clock())
    a, b = throttle.enter("POST", AUTH_A), throttle.enter("POST", AUTH_A)
    third = throttle.enter("POST", AUTH_A)
    assert third is not None and third.refusal is not None and third.refusal.status == 429
    assert a is not None and b is not None
    a.leave()
    a.leave()  # twice is harmless
    fourth = throttle.enter("POST", AUTH_A)
    assert fourth is not None and fourth.refusal is None
    assert throttle.peak_inflight == 2


def test_outage_then_healthy() -> None:
    clock = Clock()
    throttle = Throttle(outage=3.0, clock=clock)
    first = throttle.enter("POST", AUTH_A)
    assert first is not None and first.refusal is not None and first.refusal.status == 503
    clock.now += 3.0
    later = throttle.enter("POST", AUTH_A)
    assert later is not None and later.refusal is None
    throttle.start_outage(1.0)
    during = throttle.enter("POST", AUTH_A)
    assert during is not None and during.refusal is not None
    assert throttle.failed == 2 and throttle.admitted == 1


def test_rate_limit_headers_on_refusals() -> None:
    throttle = Throttle(rate=2, burst=1, headers=True, clock=Clock())
    throttle.enter("POST", AUTH_A)
    refused = throttle.enter("POST", AUTH_A)
    assert refused is not None and refused.refusal is not None
    headers = refused.refusal.headers
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")


@pytest.mark.parametrize("bad", [{"rate": 0}, {"burst": 0.5}, {"max_inflight": 0}])
def test_bad_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Throttle(**bad)  # type: ignore[arg-type]


def test_server_answers_429_with_retry_after_and_counts() -> None:
    throttle = Throttle(rate=0.5, burst=1, retry_after=7)
    with LocalLunosServer(throttle=throttle) as server:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        with httpx.Client(base_url=server.base_url, headers=headers) as client:
            ok = client.post("/chat/completions", json=body)
            refused = client.post("/chat/completions", json=body)
            catalog = client.get("/models")
    assert ok.status_code == 200 and catalog.status_code == 200
    assert refused.status_code == 429 and refused.headers["retry-after"] == "7"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert (throttle.admitted, throttle.refused) == (1, 1)
    assert "key" not in repr(throttle).lower() or server.api_key not in repr(throttle)
