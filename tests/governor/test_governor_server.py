"""The governor against a throttling :class:`LocalLunosServer`, judged by the server.

Every assertion is on what reached the server (its own counters and arrival times) or on
call outcomes, never on client-side timing: a busy machine can only make the client later,
and "no attempt arrived before the gateway's advertised time" stays true then.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import time
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import pytest

from lunos_integrations.config import resolve_config
from lunos_integrations.errors import InternalServerError, RateLimitError, ThrottledError
from lunos_integrations.langchain import ChatLunos, LunosEmbeddings
from lunos_integrations.llama_index import LunosLLM
from lunos_integrations.observe import CallInfo, CallObserver, watching
from lunos_integrations.testing import ErrorReply, LocalLunosServer, Throttle
from lunos_integrations.transport.governor import GOVERNORS, governor_key
from lunos_integrations.transport.http import Transport

BODY = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def throttled() -> Iterator[LocalLunosServer]:
    """A fresh server (fresh port, so a fresh governor) that accepts any key."""
    with LocalLunosServer(require_auth=False, throttle=Throttle()) as server:
        yield server


def throttle_of(server: LocalLunosServer) -> Throttle:
    assert server.throttle is not None
    return server.throttle


def transport(server: LocalLunosServer, key: str = "sk-key-a", **kw: Any) -> Transport:
    kw.setdefault("retry_backoff", 0.05)
    return Transport(resolve_config(api_key=key, base_url=server.base_url, **kw))


def chat(server: LocalLunosServer, **kw: Any) -> ChatLunos:
    return ChatLunos(model="openai/gpt-4o", api_key="sk-key-a", base_url=server.base_url, **kw)


def test_retry_after_pauses_other_calls_on_the_key_and_not_other_keys(
    throttled: LocalLunosServer,
) -> None:
    # 3 s: long enough that the other key's call (its model built and imported in the
    # meantime) lands inside the pause on any machine, which shows it was not held.
    throttled.enqueue(ErrorReply(429, headers={"Retry-After": "3"}), "/v1/chat/completions")
    first = transport(throttled, max_retries=0)
    with pytest.raises(RateLimitError):
        first.request("POST", "/chat/completions", body=BODY)
    # A different object, another framework and the async path: the same key's governor.
    llm = LunosLLM(model="openai/gpt-4o", api_key="sk-key-a", base_url=throttled.base_url)
    other = LunosEmbeddings(api_key="sk-key-b", base_url=throttled.base_url)
    other.embed_query("not held")  # another key: not paused
    reply = asyncio.run(llm.acomplete("held"))
    records = throttle_of(throttled).records()
    refused_at = records[0].at
    key_a = records[0].key
    later_a = [r.at for r in records[1:] if r.key == key_a]
    other_keys = [r.at for r in records[1:] if r.key != key_a]
    assert later_a and min(later_a) >= refused_at + 3.0
    assert other_keys and min(other_keys) < refused_at + 3.0
    assert reply.additional_kwargs.get("rate_limit_wait_s", 0) > 0
    first.close()


def test_held_calls_are_released_spread_not_in_lockstep(throttled: LocalLunosServer) -> None:
    throttled.enqueue(ErrorReply(429, headers={"Retry-After": "0.5"}), "/v1/chat/completions")
    model = chat(throttled, max_retries=0)
    with pytest.raises(RateLimitError):
        model.invoke("first")
    answers = asyncio.run(model.abatch([f"p{i}" for i in range(20)]))
    assert len(answers) == 20
    times = throttle_of(throttled).arrivals()
    pause_end = times[0] + 0.5
    released = [t for t in times[1:]]
    assert min(released) >= pause_end
    assert max(released) - min(released) >= 0.05  # a window, not one instant
    assert all(a.response_metadata.get("rate_limit_wait_s", 0) > 0 for a in answers)


def test_a_wait_longer_than_the_timeout_raises_without_sending(
    throttled: LocalLunosServer,
) -> None:
    throttled.enqueue(ErrorReply(429, headers={"Retry-After": "5"}), "/v1/chat/completions")
    t = transport(throttled, max_retries=0, timeout=1.0)
    with pytest.raises(RateLimitError):
        t.request("POST", "/chat/completions", body=BODY)
    with pytest.raises(ThrottledError) as info:
        t.request("POST", "/chat/completions", body=BODY)
    assert info.value.reason == "deadline"
    assert "rate governor" in str(info.value) and "sk-key-a" not in str(info.value)
    assert len(throttle_of(throttled).arrivals()) == 1  # nothing sent
    assert pickle.loads(pickle.dumps(info.value)).reason == "deadline"
    t.close()


def test_retries_pass_through_the_governor(throttled: LocalLunosServer) -> None:
    # A call's own retry of a 429 waits for the pause like everyone else's attempts.
    throttled.enqueue(ErrorReply(429, headers={"Retry-After": "0.4"}), "/v1/chat/completions")
    t = transport(throttled, max_retries=1)
    t.request("POST", "/chat/completions", body=BODY)
    times = throttle_of(throttled).arrivals()
    assert len(times) == 2 and times[1] - times[0] >= 0.4
    stats = GOVERNORS.get(governor_key(t.config) or ("", "")).stats()
    assert stats["admitted"] == 2 and stats["refused"] == 1
    t.close()


class RefusalSeen(CallObserver):
    """Observer factory and observer: marks every attempt begun after the first 429 seen.

    The mark is the client's time.monotonic() when that 429 arrived, sent as a header, so
    the server's record of each marked request can be compared with it.
    """

    def __init__(self) -> None:
        self.first: float | None = None

    def __call__(self, info: CallInfo) -> CallObserver:
        return self

    def on_attempt(self, attempt: int, headers: MutableMapping[str, str]) -> None:
        if self.first is not None:
            headers["x-after-refusal"] = repr(self.first)

    def on_response(self, attempt: int, status: int, headers: Mapping[str, str]) -> None:
        if status == 429 and self.first is None:
            self.first = time.monotonic()


def batch_ok(model: ChatLunos, n: int, concurrency: int) -> list[Any]:
    prompts = [f"prompt {i}" for i in range(n)]
    return asyncio.run(
        model.abatch(prompts, config={"max_concurrency": concurrency}, return_exceptions=True)
    )


@pytest.mark.parametrize("retry_after", [0.3, None], ids=["retry-after", "no-header"])
def test_batch_under_a_token_bucket_finishes_with_bounded_refusals(
    retry_after: float | None,
) -> None:
    throttle = Throttle(rate=40, burst=5, retry_after=retry_after)
    seen = RefusalSeen()
    with LocalLunosServer(require_auth=False, throttle=throttle) as server, watching(seen):
        results = batch_ok(chat(server), 60, 20)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    assert throttle.admitted >= 60
    # The first wave alone is 15 of 60 refused; every call retrying on its own sends far more.
    assert throttle.refused <= 0.5 * 60
    if retry_after is not None:
        # Every attempt the client began after it had seen a refusal reached the server no
        # earlier than the advertised time after that moment (both read time.monotonic in
        # this process). Attempts already on their way when the refusal came are not held,
        # and how late they land depends on the machine, so they are told apart by the
        # header the observer put on the others, not by their arrival time.
        held = [r for r in server.requests if "x-after-refusal" in r.headers]
        assert held, "no attempt began after a refusal: the case proves nothing"
        early = [
            r.arrived - float(r.headers["x-after-refusal"])
            for r in held
            if r.arrived < float(r.headers["x-after-refusal"]) + retry_after - 0.01
        ]
        assert not early, f"sent {early} s after a refusal that asked for {retry_after} s"


def test_sync_batch_in_threads_shares_the_governor() -> None:
    throttle = Throttle(rate=40, burst=4)
    with LocalLunosServer(require_auth=False, throttle=throttle) as server:
        model = chat(server)
        results = model.batch(
            [f"p{i}" for i in range(40)], config={"max_concurrency": 10}, return_exceptions=True
        )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert throttle.refused <= 20


def test_inflight_cap_is_learned() -> None:
    throttle = Throttle(max_inflight=4, service_time=0.05)
    with LocalLunosServer(require_auth=False, throttle=throttle) as server:
        results = batch_ok(chat(server), 60, 20)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert throttle.peak_inflight <= 4
    assert throttle.refused <= 0.5 * 60  # the first wave is 16 of them


def test_outage_does_not_multiply_load_and_held_calls_resume() -> None:
    throttle = Throttle(outage=1.0)
    with LocalLunosServer(require_auth=False, throttle=throttle) as server:
        results = batch_ok(chat(server), 30, 15)
    assert [r for r in results if isinstance(r, BaseException)] == []
    # First wave (15) + a handful of probes; without the governor, 15 x 3 attempts.
    assert throttle.failed <= 15 + 8
    assert throttle.admitted >= 30


def test_off_switch_restores_every_call_retrying_on_its_own() -> None:
    throttle = Throttle(outage=30.0)
    with LocalLunosServer(require_auth=False, throttle=throttle) as server:
        model = ChatLunos(
            model="openai/gpt-4o",
            api_key="sk-key-a",
            base_url=server.base_url,
            rate_governor=False,
            max_retries=1,
        )
        results = batch_ok(model, 10, 10)
        assert governor_key(model.client.config) is None
    assert all(isinstance(r, InternalServerError) for r in results)
    assert throttle.failed == 10 * 2  # each call: first try + its one retry, as before


def test_long_outage_fails_fast_with_a_typed_error() -> None:
    throttle = Throttle(outage=60.0)
    with LocalLunosServer(require_auth=False, throttle=throttle) as server:
        t = transport(server, max_retries=2)
        key = governor_key(t.config)
        assert key is not None
        GOVERNORS.get(key).health.patience = 0.6  # a "long" outage, quickly

        async def main() -> list[Any]:
            return await asyncio.gather(
                *(t.arequest("POST", "/chat/completions", body=BODY) for _ in range(12)),
                return_exceptions=True,
            )

        results = asyncio.run(main())
        sent = len(throttle.arrivals())
        more = asyncio.run(main())  # the key is still down: fail without sending
        t.close()
    assert all(isinstance(r, (InternalServerError, ThrottledError)) for r in results + more)
    assert any(isinstance(r, ThrottledError) and r.reason == "outage" for r in more)
    assert sent <= 12 + 8  # not 12 x 3
    assert len(throttle.arrivals()) - sent <= 2  # at most a probe


def test_repeated_asyncio_run_and_threads_use_one_governor(throttled: LocalLunosServer) -> None:
    throttled.enqueue(ErrorReply(429, headers={"Retry-After": "0.3"}), "/v1/chat/completions")
    t = transport(throttled, max_retries=0)

    async def call() -> Any:
        return await t.arequest("POST", "/chat/completions", body=BODY)

    with pytest.raises(RateLimitError):
        asyncio.run(call())
    asyncio.run(call())  # a new loop, the same pause
    times = throttle_of(throttled).arrivals()
    assert times[1] - times[0] >= 0.3
    t.close()


def test_governor_registry_shows_no_key_and_is_reset_in_a_forked_child(
    throttled: LocalLunosServer,
) -> None:
    t = transport(throttled, key="sk-SECRET-MARKER-123")
    t.request("POST", "/chat/completions", body=BODY)
    key = governor_key(t.config)
    assert key is not None
    gov = GOVERNORS.get(key)
    gov.paused_until = 1e18  # held forever, in this process
    texts = [repr(GOVERNORS), repr(gov), repr(key), str(gov.stats()), repr(t.config)]
    assert not any("SECRET-MARKER" in text for text in texts)
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    pid = os.fork()
    if pid == 0:  # the child: a fresh governor, not the parent's pause
        code = 0 if GOVERNORS.get(key).paused_until < 1e17 else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    gov.paused_until = float("-inf")
    t.close()
    assert os.waitstatus_to_exitcode(status) == 0
