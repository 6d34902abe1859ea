"""Resilience: retries, typed errors, ``fallback_model`` and cut streams, on scripted faults.

Shows what happens when things go wrong, using the local server's scripted faults
(``server.enqueue(ErrorReply(...))`` / ``StreamFault(...)``) so each case is exact:

1. 429 then 503 → retried by the transport (honouring ``Retry-After``), the call succeeds;
2. more failures than ``max_retries`` → a typed ``InternalServerError`` (also a LangChain
   ``ModelAPIError``), raised after ``1 + max_retries`` attempts;
3. a wrong key → ``AuthenticationError`` at once: 401 is never retried;
4. an unavailable model with ``fallback_model`` → one extra request to the fallback, and
   ``response_metadata["model_name"]`` says which model answered;
5. a stream whose connection drops mid-way → a typed error, never a silently short answer.

Faults cannot be injected into the real API, so this recipe always runs them against a
local server — also when ``LUNOS_API_KEY`` is set (it says so).

Run: ``python cookbook/resilience.py``.
"""

from __future__ import annotations

import atexit
from typing import Any

from _setup import CHAT_MODEL, connection, section
from langchain_core.exceptions import ModelAPIError

from lunos_integrations import ChatLunos
from lunos_integrations.errors import AuthenticationError, InternalServerError, LunosError
from lunos_integrations.testing import ErrorReply, LocalLunosServer, StreamFault
from lunos_integrations.testing.scripting import error_envelope

CHAT_PATH = "/v1/chat/completions"


def attempts(server: LocalLunosServer, since: int) -> list[str]:
    """What the server answered to each chat request since ``since`` (scripted or normal)."""
    out = []
    for req in server.requests[since:]:
        if req.path == CHAT_PATH:
            action = req.action
            out.append(f"{action.status}" if isinstance(action, ErrorReply) else "answered")
    return out


def main() -> None:
    conn = connection()
    if conn.server is not None:
        server = conn.server
    else:
        server = LocalLunosServer().start()
        atexit.register(server.stop)
        print(
            "Faults cannot be injected into the real API: the fault-injection cases below run "
            f"against a local server at {server.base_url} regardless."
        )
    local: dict[str, Any] = {"base_url": server.base_url, "api_key": server.api_key}

    section("1. transient errors are retried")
    model = ChatLunos(model=CHAT_MODEL, max_retries=2, **local)
    server.enqueue(ErrorReply(429, headers={"retry-after-ms": "50"}), path=CHAT_PATH)
    server.enqueue(ErrorReply(503, headers={"Retry-After": "0"}), path=CHAT_PATH)
    start = len(server.requests)
    reply = model.invoke('Say "recovered"')
    print("answer:", reply.content)
    print("attempts:", " -> ".join(attempts(server, start)))

    section("2. retries are bounded (max_retries=1)")
    model = ChatLunos(model=CHAT_MODEL, max_retries=1, **local)
    for _ in range(2):
        server.enqueue(ErrorReply(503, headers={"Retry-After": "0"}), path=CHAT_PATH)
    start = len(server.requests)
    try:
        model.invoke("hello")
    except InternalServerError as exc:
        print(f"raised {type(exc).__name__} (status {exc.status_code}): {exc}")
        print(
            "it is both a lunos_integrations InternalServerError and a LangChain "
            f"ModelAPIError: {isinstance(exc, ModelAPIError)}"
        )
    else:
        print("no error was raised (unexpected)")
    print("attempts:", " -> ".join(attempts(server, start)))

    section("3. a wrong key fails fast (401 is not retried)")
    wrong = ChatLunos(
        model=CHAT_MODEL, base_url=server.base_url, api_key="sk-wrong-key", max_retries=2
    )
    start = len(server.requests)
    try:
        wrong.invoke("hello")
    except AuthenticationError as exc:
        print(f"raised {type(exc).__name__}: {exc}")
    else:
        print("no error was raised (unexpected)")
    print("chat requests sent:", len(attempts(server, start)))

    section("4. fallback_model when the requested model is unavailable")
    model = ChatLunos(model="openai/gpt-4o", fallback_model=CHAT_MODEL, **local)
    not_available = error_envelope(404, "Model openai/gpt-4o is not available", "model_not_found")
    server.enqueue(ErrorReply(404, body=not_available), path=CHAT_PATH)
    start = len(server.requests)
    reply = model.invoke('Say "served by the fallback"')
    print("answer:", reply.content)
    print("answered by:", reply.response_metadata.get("model_name"))
    requested = [r.json["model"] for r in server.requests[start:] if r.path == CHAT_PATH]
    print("models requested:", " -> ".join(requested))

    section("5. a stream cut mid-way raises instead of ending short")
    model = ChatLunos(model=CHAT_MODEL, **local)
    server.enqueue(StreamFault(disconnect_after_events=3), path=CHAT_PATH)
    received = ""
    try:
        for chunk in model.stream("Tell me a long story about a lighthouse keeper."):
            received += chunk.text
    except LunosError as exc:
        print(f"raised {type(exc).__name__} after receiving {received!r}")
    else:
        print(f"the stream ended without an error (unexpected): {received!r}")

    if not conn.offline:
        section("the real API, with the same settings")
        model = ChatLunos(model=CHAT_MODEL, max_retries=2, fallback_model="google/gemini-2.5-flash")
        print("answer:", model.invoke('Say "pong"').content)


if __name__ == "__main__":
    main()
