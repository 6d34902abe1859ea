"""A local, Lunos-compatible HTTP server for testing code that talks to Lunos.

Why: the live API is not reachable from CI, and mocking a client library hides exactly the
bugs integrations have (wrong paths, auth headers, SSE parsing, retries, cancellation). This
package serves the Lunos wire protocol (OpenAI-style ``/v1/chat/completions``, Anthropic
``/v1/messages``, ``/v1/embeddings``, ``/v1/models``, ``/v1/balance``) on 127.0.0.1 with a
deterministic fake model, and lets a test script failures exactly.

Quick start::

    from lunos_integrations.testing import LocalLunosServer, ErrorReply, StreamFault

    with LocalLunosServer() as server:            # or the pytest fixture `lunos_server`
        server.enqueue(ErrorReply(429, headers={"Retry-After": "0"}))
        ...  # point your client at server.base_url with server.api_key

Pieces (each module's docstring documents its part):

* :mod:`.server` — :class:`LocalLunosServer`.
* :mod:`.records` — :class:`RecordedRequest` (with the server's own arrival and reply
  times) and :func:`peak_concurrency`.
* :mod:`.fake_model` — what the fake model answers (text, tools, JSON, reasoning, usage).
* :mod:`.scripting` — scripted replies and faults: :class:`JSONReply`, :class:`ErrorReply`,
  :class:`RawReply`, :class:`StreamReply`, :class:`Disconnect`, :class:`Delay`,
  :class:`StreamFault`.
* :mod:`.throttle` — :class:`Throttle`: ``LocalLunosServer(throttle=...)`` refuses model
  calls like a throttling gateway (per-key token bucket with or without ``Retry-After``,
  in-flight cap, timed outage) and counts admitted and refused requests.
* :mod:`.catalog` — the models served at ``/v1/models``.
* :mod:`.web_search` — the web-search server tool: deterministic results and citations
  (chat ``annotations``; messages ``server_tool_use`` / ``web_search_tool_result`` blocks
  and text ``citations``), streamed too.
* :mod:`.strict_types` — ``strict_openai_types=True``: refuse ``content: null`` (and other
  message shapes strict OpenAI-compatible servers refuse) as llama-cpp-python's server does.
* :mod:`.hostile` — :class:`HostileServer`, a raw-socket server that misbehaves on purpose
  (trickled headers and bodies, keep-alive floods, compression bombs, deep nesting, ...).
* :mod:`.pytest_plugin` — fixtures ``lunos_server``, ``lunos_server_session``,
  ``lunos_strict_server``, ``lunos_base_url``, ``lunos_api_key`` (auto-registered when the
  package is installed).
* ``python -m lunos_integrations.testing`` — run the server from a shell.

Runtime dependencies: the standard library only. Names are imported lazily so that importing
this package (which pytest does for the plugin) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catalog import DEFAULT_MODELS, default_models
    from .fake_model import count_tokens
    from .hostile import HostileServer
    from .records import RecordedRequest, peak_concurrency
    from .scripting import (
        Action,
        Delay,
        Disconnect,
        ErrorReply,
        JSONReply,
        RawReply,
        Script,
        StreamFault,
        StreamReply,
    )
    from .server import LocalLunosServer
    from .throttle import Throttle

_EXPORTS = {
    "LocalLunosServer": "server",
    "HostileServer": "hostile",
    "RecordedRequest": "records",
    "peak_concurrency": "records",
    "Action": "scripting",
    "Delay": "scripting",
    "Disconnect": "scripting",
    "ErrorReply": "scripting",
    "JSONReply": "scripting",
    "RawReply": "scripting",
    "Script": "scripting",
    "StreamFault": "scripting",
    "StreamReply": "scripting",
    "Throttle": "throttle",
    "count_tokens": "fake_model",
    "DEFAULT_MODELS": "catalog",
    "default_models": "catalog",
}

__all__ = [
    "DEFAULT_MODELS",
    "Action",
    "Delay",
    "Disconnect",
    "ErrorReply",
    "HostileServer",
    "JSONReply",
    "LocalLunosServer",
    "RawReply",
    "RecordedRequest",
    "Script",
    "StreamFault",
    "StreamReply",
    "Throttle",
    "count_tokens",
    "default_models",
    "peak_concurrency",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
