"""The governor's decisions on a test-controlled clock: no sleeping, no threads.

Each test drives :meth:`Governor.decide` / :meth:`Governor.settle` with explicit ``now``
values, so the rules (who waits, how long, who probes) are checked exactly.
"""

from __future__ import annotations

import math
import random

import pytest

from lunos_integrations.transport.governor import Governor, Kind, Outcome, Ticket
from lunos_integrations.transport.governor.core import FAIL, GO, HOLD, SLEEP
from lunos_integrations.transport.governor.health import (
    BUDGET_TOKENS,
    MIN_FAILURES,
    PROBE_FIRST_S,
    RetryBudget,
)
from lunos_integrations.transport.governor.pause import header_limits, parse_duration
from lunos_integrations.transport.governor.rate import BETA, RECOVERY_S, Pacer, RateEstimator


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[Governor, Clock]:
    clock = Clock()
    return Governor(clock=clock, rng=random.Random(7)), clock


def go(gov: Governor, now: float, kind: Kind = Kind.FIRST) -> Ticket:
    t = Ticket(kind)
    verdict, wait = gov.decide(t, now)
    assert (verdict, wait) == (GO, 0.0)
    return t


def test_healthy_key_never_waits() -> None:
    gov, clock = make()
    for i in range(200):
        t = go(gov, clock.now + i * 0.001)
        gov.settle(t, Outcome.OK, now=clock.now + i * 0.001 + 0.0005)
    assert gov.inflight == 0
    assert gov.rate.rate is None and gov.inflight_limit.limit is None


def test_retry_after_pauses_every_new_attempt_until_then_and_spreads_them() -> None:
    gov, _ = make()
    refused = go(gov, 0.0)
    gov.settle(refused, Outcome.THROTTLED, retry_after=1.0, now=0.01)
    releases = []
    for _ in range(40):
        t = Ticket()
        verdict, wait = gov.decide(t, 0.02)
        assert verdict == SLEEP
        releases.append(0.02 + wait)
    assert min(releases) >= 1.01  # nobody before the time the gateway asked for
    assert max(releases) - min(releases) > 0.2  # spread over a window, not in lockstep
    assert len({round(r, 4) for r in releases}) == len(releases)
    assert max(releases) <= 1.01 + 0.5


def test_attempt_booked_before_a_pause_waits_for_it() -> None:
    gov, _ = make()
    t = Ticket()
    other = go(gov, 0.0)
    gov.settle(other, Outcome.THROTTLED, retry_after=2.0, now=0.1)
    verdict, wait = gov.decide(t, 0.5)
    assert verdict == SLEEP and 0.5 + wait >= 2.1


def test_learned_rate_falls_on_refusal_and_recovers_beyond_it() -> None:
    gov, _ = make()
    now = 0.0
    # 20 accepted per second for two seconds.
    while now < 2.0:
        t = go(gov, now)
        gov.settle(t, Outcome.OK, now=now + 0.001)
        now += 0.05
    t = go(gov, now)
    gov.settle(t, Outcome.THROTTLED, now=now + 0.001)
    assert gov.rate.rate is not None
    fallen = gov.rate.rate
    assert fallen == pytest.approx(20 * BETA, rel=0.1)
    # Paced: the next attempts are spaced at the learned rate.
    verdicts = [gov.decide(Ticket(), now + 0.002) for _ in range(5)]
    assert verdicts[0][0] == GO
    assert any(v == SLEEP for v, _ in verdicts)
    # Successes after the refusal grow the rate back, past the refused rate after a while.
    later = now + RECOVERY_S + 2.0
    t = Ticket()
    t.sent_at, t.admitted = later - 0.01, True
    gov.inflight += 1
    gov.settle(t, Outcome.OK, now=later)
    assert gov.rate.rate is not None and gov.rate.rate > 20


def test_refusals_of_one_burst_lower_the_rate_once() -> None:
    est = RateEstimator()
    est.on_sent(0.0)
    now = 0.0
    while now < 1.5:  # 20 accepted per second
        est.on_accepted(now, now + 0.001)
        now += 0.05
    assert est.on_refused(now, now + 0.01, now + 0.01)
    first = est.rate
    assert first == pytest.approx(20 * BETA, rel=0.1)
    # Other attempts of the same burst (sent before the event) come back refused too.
    assert not est.on_refused(now, now + 0.02, now + 0.02)
    assert not est.on_refused(now + 0.05, now + 0.03, now + 0.03)  # booked in the grace
    assert est.rate == first


def test_inflight_limit_learned_from_what_is_still_in_flight() -> None:
    gov, _ = make()
    wave = [go(gov, 0.0) for _ in range(20)]
    for t in wave[8:]:  # 12 refused at once while the other 8 are being served
        gov.settle(t, Outcome.THROTTLED, now=0.01)
    assert gov.inflight_limit.limit == 8
    held = Ticket()
    assert gov.decide(held, 0.02) == (HOLD, math.inf)
    gov.settle(wave[0], Outcome.OK, now=0.2)  # a slot is handed over, oldest first
    assert held.granted
    assert gov.decide(held, 0.2)[0] == GO
    assert gov.inflight == 8


def test_rate_refusals_with_little_in_flight_do_not_cap_concurrency() -> None:
    gov, _ = make()
    now = 0.0
    for _ in range(40):
        t = go(gov, now)
        gov.settle(t, Outcome.OK, now=now + 0.2)  # 0.2 s latency, sequential
        now += 0.05
    t = go(gov, now)
    gov.settle(t, Outcome.THROTTLED, now=now + 0.01)  # nothing else in flight
    assert gov.inflight_limit.limit is None


def test_retry_budget_limits_retries_of_failures_and_successes_refill_it() -> None:
    budget = RetryBudget()
    taken = sum(budget.take() for _ in range(100))
    assert taken == int(BUDGET_TOKENS)
    assert not budget.take()
    for _ in range(10):
        budget.refund()
    assert budget.take()


def test_governor_denies_retries_when_failures_persist_without_an_outage() -> None:
    gov, _ = make()
    now, denied = 0.0, 0
    for _ in range(100):  # 1 failure in 3: never "down", but retries stay a fraction
        for outcome in (Outcome.OK, Outcome.OK, Outcome.FAILED):
            t = go(gov, now)
            gov.settle(t, outcome, now=now + 0.001)
            now += 0.01
        denied += not gov.take_retry()
    assert not gov.health.down
    assert denied > 50


def fail_many(gov: Governor, n: int, now: float) -> list[Ticket]:
    tickets = [go(gov, now) for _ in range(n)]
    for t in tickets:
        gov.settle(t, Outcome.FAILED, now=now + 0.01)
    return tickets


def test_outage_holds_calls_and_sends_one_probe_at_a_time() -> None:
    gov, _ = make()
    fail_many(gov, MIN_FAILURES, 0.0)
    assert gov.health.down
    held = [Ticket(Kind.RETRY_FAILURE, tries=1) for _ in range(10)]
    for t in held:
        verdict, wait = gov.decide(t, 0.02)
        assert verdict == HOLD and wait <= PROBE_FIRST_S
    probe_time = 0.01 + PROBE_FIRST_S
    verdicts = [gov.decide(t, probe_time)[0] for t in held]
    assert verdicts.count(GO) == 1  # one probe, the rest held
    probe = held[verdicts.index(GO)]
    gov.settle(probe, Outcome.FAILED, now=probe_time + 0.01)
    assert gov.health.probe_at > probe_time + 0.01 + PROBE_FIRST_S  # intervals grow
    assert all(gov.decide(t, probe_time + 0.05)[0] == HOLD for t in held if t is not probe)


def test_probe_success_ends_outage_and_releases_held_calls_spread() -> None:
    gov, _ = make()
    fail_many(gov, MIN_FAILURES, 0.0)
    held = [Ticket(Kind.RETRY_FAILURE, tries=1) for _ in range(30)]
    for t in held:
        gov.decide(t, 0.02)
    probe_time = 0.01 + PROBE_FIRST_S
    probe = next(t for t in held if gov.decide(t, probe_time)[0] == GO)
    gov.settle(probe, Outcome.OK, now=probe_time + 0.01)
    assert not gov.health.down
    rest = [t for t in held if t is not probe]
    releases = [t.release_at for t in rest]
    assert all(r is not None and r >= probe_time + 0.01 for r in releases)
    assert len({round(r or 0, 4) for r in releases}) > 20
    # Held retries are the recovery: the retry budget does not turn them away.
    assert gov.take_retry()


def test_probes_go_to_the_calls_with_fewest_attempts() -> None:
    gov, _ = make()
    fail_many(gov, MIN_FAILURES, 0.0)
    veteran, fresh = Ticket(tries=2), Ticket(tries=1)
    gov.decide(fresh, 0.02)
    assert gov.decide(veteran, 1.0)[0] == HOLD  # fresh was woken to probe instead
    assert gov.decide(fresh, 1.0)[0] == GO


def test_a_long_outage_fails_fast_but_probes_continue() -> None:
    gov, _ = make()
    gov.health.patience = 2.0
    fail_many(gov, MIN_FAILURES, 0.0)
    probe = Ticket()
    assert gov.decide(probe, 0.5)[0] == GO
    gov.settle(probe, Outcome.FAILED, now=0.6)
    late = Ticket(may_probe=False)
    assert gov.decide(late, 3.0)[0] == FAIL  # past patience: no waiting
    assert gov.decide(Ticket(), 3.0)[0] == GO  # but a probe still tests recovery


def test_catalog_requests_do_not_probe() -> None:
    gov, _ = make()
    fail_many(gov, MIN_FAILURES, 0.0)
    assert gov.decide(Ticket(may_probe=False), 5.0)[0] == HOLD


def test_declared_requests_per_minute_paces_from_the_first_call() -> None:
    gov = Governor(requests_per_minute=600, clock=Clock(), rng=random.Random(1))
    times = []
    now = 0.0
    for _ in range(30):
        t = Ticket()
        while True:
            verdict, wait = gov.decide(t, now)
            if verdict == GO:
                break
            now += wait
        times.append(now)
        gov.settle(t, Outcome.OK, now=now)
    # 10 per second (burst of 10): 30 attempts take at least two seconds.
    assert times[-1] - times[0] >= 1.9


def test_declared_tokens_per_minute_counts_request_cost() -> None:
    gov = Governor(tokens_per_minute=6000, clock=Clock(), rng=random.Random(1))
    now, sent = 0.0, 0
    while now < 5.0:
        t = Ticket(cost=500)
        verdict, wait = gov.decide(t, now)
        if verdict == GO:
            sent += 1
            gov.settle(t, Outcome.OK, now=now)
        else:
            now += wait
    assert sent <= 1 + 5 * 100 / 500 + 1  # 100 tokens/s


def test_pacer_allows_its_burst_then_spaces() -> None:
    pacer = Pacer(10.0, burst=3)
    slots = [pacer.reserve(0.0) for _ in range(6)]
    assert slots[:3] == [0.0, 0.0, 0.0]
    assert slots[3:] == pytest.approx([0.1, 0.2, 0.3])


def test_rate_limit_headers_pause_or_pace() -> None:
    assert parse_duration("6m0s") == 360.0
    assert parse_duration("20ms") == pytest.approx(0.02)
    assert parse_duration("1h2m3.5s") == pytest.approx(3723.5)
    assert parse_duration("1.5") == 1.5
    assert parse_duration("soon") is None
    empty = header_limits(
        {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.5s"}
    )
    assert empty is not None and empty.pause_s() == 1.5
    litellm = header_limits(
        {"x-ratelimit-api_key-remaining-requests": "3", "x-ratelimit-api_key-reset-requests": "1s"}
    )
    assert litellm is not None and litellm.rate() == 3.0
    assert header_limits({"x-ratelimit-remaining-tokens": "500"}) is None
    gov, _ = make()
    t = go(gov, 0.0)
    gov.settle(
        t,
        Outcome.OK,
        {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "500ms"},
        now=0.01,
    )
    verdict, wait = gov.decide(Ticket(), 0.02)
    assert verdict == SLEEP and 0.02 + wait >= 0.51


def test_cancelled_probe_hands_probing_to_another_call() -> None:
    gov, _ = make()
    fail_many(gov, MIN_FAILURES, 0.0)
    probe = Ticket()
    assert gov.decide(probe, 1.0)[0] == GO
    gov.settle(probe, Outcome.CANCELLED, now=1.1)
    assert gov.decide(Ticket(), 1.1)[0] == GO


def test_abandoned_holder_returns_its_granted_slot() -> None:
    gov, _ = make()
    wave = [go(gov, 0.0) for _ in range(4)]
    for t in wave[2:]:
        gov.settle(t, Outcome.THROTTLED, now=0.01)
    assert gov.inflight_limit.limit == 2
    a, b = Ticket(), Ticket()
    assert gov.decide(a, 0.02)[0] == HOLD and gov.decide(b, 0.02)[0] == HOLD
    gov.settle(wave[0], Outcome.OK, now=0.1)
    assert a.granted
    gov.abandon(a)  # deadline or cancellation: the slot goes to the next in line
    assert b.granted and gov.inflight == 2


def test_repr_shows_state_not_secrets() -> None:
    gov, _ = make()
    text = repr(gov)
    assert text.startswith("Governor(") and "inflight=0" in text
