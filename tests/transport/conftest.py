"""Shared pieces for transport tests: a local server and a transport factory pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lunos_integrations.config import resolve_config
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.transport.http import Transport

MakeTransport = Callable[..., Transport]


@pytest.fixture
def make_transport(lunos_server: LocalLunosServer) -> Iterator[MakeTransport]:
    made: list[Transport] = []

    def make(**overrides: Any) -> Transport:
        kwargs: dict[str, Any] = {
            "api_key": lunos_server.api_key,
            "base_url": lunos_server.base_url,
            "retry_backoff": 0.01,
            "max_retry_wait": 2.0,
        }
        kwargs.update(overrides)
        transport = Transport(resolve_config(**kwargs))
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


CHAT_BODY = {
    "model": "openai/gpt-4o",
    "messages": [{"role": "user", "content": "Say hello"}],
}
