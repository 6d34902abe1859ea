"""Telemetry's own settings: validation, which factory a client carries, the rate hook."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from lunos_integrations.client import LunosClient
from lunos_integrations.observe import CallInfo
from lunos_integrations.telemetry import DEFAULT_TELEMETRY, Telemetry, with_default_telemetry
from lunos_integrations.telemetry.spans import SpanObserver
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.wire.types import ChatRequest, Message

from .conftest import Otel


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_content_bytes": 10}, ValueError),
        ({"max_content_bytes": True}, TypeError),
        ({"semconv": "newest"}, ValueError),
    ],
)
def test_bad_settings_say_what_to_fix(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        Telemetry(**kwargs)


def test_a_client_carries_the_default_unless_handed_a_telemetry() -> None:
    def budget(info: CallInfo) -> None:
        return None

    mine = Telemetry(enabled=False)
    assert with_default_telemetry(()) == (DEFAULT_TELEMETRY,)
    assert with_default_telemetry((budget,)) == (budget, DEFAULT_TELEMETRY)
    assert with_default_telemetry((budget, mine)) == (budget, mine)
    client = LunosClient(api_key="k", base_url="http://127.0.0.1:9/v1", observers=(mine,))
    assert client.observers == (mine,)
    assert pickle.loads(pickle.dumps(DEFAULT_TELEMETRY)) is DEFAULT_TELEMETRY
    copy = pickle.loads(pickle.dumps(Telemetry(capture_content=True, semconv="latest")))
    assert (copy.capture_content, copy.semconv) == (True, "latest")


def test_rate_governor_wait_is_recorded_once_reported(otel: Otel, server: LocalLunosServer) -> None:
    """The transport has no rate governor yet; when it reports waits, they land here."""
    made: list[SpanObserver] = []
    telemetry = otel.telemetry()

    def factory(info: CallInfo) -> Any:
        observer = telemetry(info)
        made.append(observer)  # type: ignore[arg-type]
        return observer

    with LunosClient(api_key=server.api_key, base_url=server.base_url) as client:
        client.observers = (factory,)
        stream = client.stream_chat(
            ChatRequest(model="openai/gpt-4o", messages=[Message("user", "hi")])
        )
        next(stream)
        made[0].on_rate_limit_wait(0.25)
        made[0].on_rate_limit_wait(0.5)
        list(stream)
    assert otel.span().attributes["lunos.rate_limit.wait_seconds"] == 0.75  # type: ignore[index]


def test_seconds_held_by_the_rate_governor_are_on_the_span(otel: Otel) -> None:
    """The transport tells the call's observers what the key's governor held it for.

    A bucket of five requests per second, burst one, with ``Retry-After: 0.3``: the second
    call, sent at once, is refused, the governor holds the retry until the server's time,
    and that call's span carries the wait (the first call's does not: nothing held it).
    """
    from lunos_integrations.testing import Throttle

    throttle = Throttle(rate=5.0, burst=1.0, retry_after=0.3)
    with LocalLunosServer(throttle=throttle) as server, otel.client(server) as client:
        for text in ("first", "second"):
            client.chat(ChatRequest(model="openai/gpt-4o", messages=[Message("user", text)]))
    first, second = sorted(otel.spans(), key=lambda s: s.start_time or 0)
    assert "lunos.rate_limit.wait_seconds" not in (first.attributes or {})
    held = (second.attributes or {})["lunos.rate_limit.wait_seconds"]
    assert isinstance(held, float) and held > 0
    assert throttle.refused >= 1  # the server did refuse, so there was something to hold
