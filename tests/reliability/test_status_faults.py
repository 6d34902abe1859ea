"""Error statuses through both adapters: rate limits, transient 5xx, permanent 4xx.

Contract: transient failures are retried (honouring the server's requested wait, within a
cap) and then give the right answer; permanent ones are sent exactly once and raise a typed
error carrying the server's own message.
"""

from __future__ import annotations

import email.utils
import math
import time
from typing import Any

import pytest
from reliability_harness import (
    ALL,
    CLOCK_READS,
    Answer,
    Driver,
    answer_for,
    chat_requests,
    run_matrix,
    server_waits,
)

from lunos_integrations.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from lunos_integrations.testing import ErrorReply, LocalLunosServer
from lunos_integrations.testing.scripting import error_envelope

PROMPT = "status check"


async def _retry_after_case(
    driver: Driver,
    server: LocalLunosServer,
    make: Any,
    headers: dict[str, str],
    *,
    at_least: float,
    below: float,
    **build: Any,
) -> None:
    """The retry came no earlier than asked, and not after a wait it must not take.

    ``below`` is the wait that would mean the wrong header (or no cap) was used: seconds
    away from ``at_least``, so it proves which wait was chosen without timing the machine.
    """
    server.enqueue(ErrorReply(429, headers=headers), path=driver.path)
    model = make(**build)
    out = await driver.ask(model, PROMPT)
    assert isinstance(out, Answer) and out.text == answer_for(PROMPT), out
    assert len(chat_requests(server, driver.path)) == 2
    [waited] = server_waits(server, driver.path)
    assert at_least - CLOCK_READS <= waited < below, f"waited {waited:.3f} s"


async def test_retry_after_seconds_is_honoured() -> None:
    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        headers = {"Retry-After": "1"}
        # default max_retry_wait is far above 1 s: only "ignored the header" is below 1 s
        await _retry_after_case(driver, server, make, headers, at_least=1.0, below=30.0)

    await run_matrix(ALL, case)


async def test_retry_after_http_date_is_honoured() -> None:
    """An HTTP date has whole-second resolution: the retry must not come before it."""
    target = math.ceil(time.time() + 0.4)
    date = email.utils.formatdate(target, usegmt=True)

    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        headers = {"Retry-After": date}
        await _retry_after_case(driver, server, make, headers, at_least=0.0, below=30.0)
        retry = chat_requests(server, driver.path)[1]
        assert retry.arrived_wall >= target - CLOCK_READS, "retried before the date given"

    await run_matrix(ALL, case)


async def test_retry_after_ms_is_honoured() -> None:
    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        headers = {"retry-after-ms": "200", "Retry-After": "5"}  # the precise one wins
        await _retry_after_case(driver, server, make, headers, at_least=0.2, below=5.0)

    await run_matrix(ALL, case)


async def test_requested_wait_is_capped() -> None:
    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        headers = {"Retry-After": "120"}
        await _retry_after_case(
            driver, server, make, headers, at_least=0.3, below=60.0, max_retry_wait=0.3
        )

    await run_matrix(ALL, case)


@pytest.mark.parametrize("driver", ALL)
async def test_rate_limit_past_max_retries_carries_retry_after(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    body = error_envelope(429, "Slow down, tier limit reached")
    for _ in range(2):
        reply = ErrorReply(429, body=body, headers={"retry-after-ms": "50"})
        srv.enqueue(reply, path=driver.path)
    model = make(driver, max_retries=1)
    out, _ = await driver.timed(model, PROMPT)
    assert isinstance(out, RateLimitError), out
    assert out.retry_after == pytest.approx(0.05)
    assert out.status_code == 429
    assert "Slow down, tier limit reached" in str(out)
    assert len(chat_requests(srv, driver.path)) == 2
    [waited] = server_waits(srv, driver.path)
    assert waited >= 0.05 - CLOCK_READS  # the one retry waited as asked


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("driver", ALL)
async def test_transient_burst_then_success(
    driver: Driver, status: int, make: Any, srv: LocalLunosServer
) -> None:
    for _ in range(2):
        srv.enqueue(ErrorReply(status), path=driver.path)
    model = make(driver, max_retries=2)
    out = await driver.ask(model, PROMPT)
    assert out.text == answer_for(PROMPT)
    assert len(chat_requests(srv, driver.path)) == 3


@pytest.mark.parametrize("driver", ALL)
async def test_transient_burst_past_max_retries(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    for _ in range(3):
        body = error_envelope(503, "Upstream provider overloaded")
        srv.enqueue(ErrorReply(503, body=body), path=driver.path)
    model = make(driver, max_retries=2)
    out, _ = await driver.timed(model, PROMPT)
    assert isinstance(out, InternalServerError), out
    assert out.status_code == 503 and "Upstream provider overloaded" in str(out)
    assert len(chat_requests(srv, driver.path)) == 3


PERMANENT = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (422, UnprocessableEntityError),
]


@pytest.mark.parametrize(("status", "cls"), PERMANENT, ids=[str(s) for s, _ in PERMANENT])
@pytest.mark.parametrize("driver", ALL)
async def test_permanent_errors_are_sent_once(
    driver: Driver,
    status: int,
    cls: type[APIStatusError],
    make: Any,
    srv: LocalLunosServer,
) -> None:
    message = f"server says no ({status}) to this request"
    body = error_envelope(status, message, code=f"code_{status}")
    # Even a server hint to retry must not make a permanent error repeat.
    reply = ErrorReply(status, body=body, headers={"x-should-retry": "true"})
    srv.enqueue(reply, path=driver.path)
    model = make(driver, max_retries=3)
    out, _ = await driver.timed(model, PROMPT)
    assert isinstance(out, cls), out
    assert out.status_code == status
    assert out.message == message and message in str(out)
    assert out.code == f"code_{status}"
    assert len(chat_requests(srv, driver.path)) == 1  # sent once, so no wait to time
