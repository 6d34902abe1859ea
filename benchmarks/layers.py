"""Where a streamed reply's CPU goes, layer by layer: ``python -m benchmarks.layers``.

Why: a ratio says *whether* a target is met; when it is not, the question is which layer
the time is in and whether it is ours. This drains the same 200-chunk reply through each
layer of our stack in turn, in one process, interleaved round by round:

* ``httpx`` — the response body through ``iter_raw()``: the HTTP floor, no parsing at all;
* ``transport`` — plus SSE framing and JSON decoding (``Transport.stream``);
* ``core`` — plus the wire codec and stream bookkeeping (``LunosClient.stream_chat``);
* ``adapter`` — plus our framework chunks (``ChatLunos._stream`` / ``LunosLLM._stream_chat``
  called directly, without the framework's wrapper);
* ``framework`` — the public ``ChatLunos.stream`` / ``LunosLLM.stream_chat``: plus
  LangChain's or LlamaIndex's own per-chunk loop (callbacks, instrumentation, merging).

Each row's increment over the previous one is that layer's cost. Figures are the best
(lowest) round, in milliseconds of process CPU per reply and microseconds per chunk.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

from .clients import CHAT_MODEL, MAX_TOKENS, MESSAGES_MODEL
from .run import bench_server
from .worker import stream_prompt

Route = Literal["chat_completions", "messages"]


def _count(items: Iterable[object]) -> int:
    """Drain an iterator without keeping what it yields (as a real consumer would)."""
    n = 0
    for _ in items:
        n += 1
    return n


def _layers(base_url: str, api_key: str, api: Route, chunks: int) -> dict[str, Callable[[], Any]]:
    from langchain_core.messages import BaseMessage, HumanMessage
    from llama_index.core.llms import ChatMessage
    from pydantic import SecretStr

    from lunos_integrations.client import LunosClient
    from lunos_integrations.langchain import ChatLunos
    from lunos_integrations.llama_index import LunosLLM
    from lunos_integrations.wire.types import ChatRequest, Message

    model = MESSAGES_MODEL if api == "messages" else CHAT_MODEL
    prompt = stream_prompt(chunks)
    client = LunosClient(base_url=base_url, api_key=api_key)
    chat = ChatLunos(
        model=model, base_url=base_url, api_key=SecretStr(api_key), api=api, max_tokens=MAX_TOKENS
    )
    llm = LunosLLM(model=model, base_url=base_url, api_key=api_key, api=api, max_tokens=MAX_TOKENS)
    path = "/messages" if api == "messages" else "/chat/completions"
    kind: Literal["chat", "messages"] = "messages" if api == "messages" else "chat"

    def request() -> ChatRequest:
        return ChatRequest(
            model=model, messages=[Message(role="user", content=prompt)], max_tokens=MAX_TOKENS
        )

    def body_and_headers() -> tuple[Any, Any]:
        req = request()
        req.stream = True
        _, body = client._prepare(req, api)
        return body, client._headers(client._route(api)[1], None)

    def httpx_floor() -> int:
        body, headers = body_and_headers()
        t = client.transport
        response = t._send_sync("POST", path, body, None, headers, True, t._budget())
        try:
            return _count(response.iter_raw())
        finally:
            response.close()

    def transport() -> int:
        body, headers = body_and_headers()
        return _count(client.transport.stream(path, body, kind=kind, headers=headers))

    def core() -> int:
        return _count(client.stream_chat(request(), api=api))

    lc_messages: list[BaseMessage] = [HumanMessage(prompt)]
    li_messages = [ChatMessage(role="user", content=prompt)]
    return {
        "httpx (iter_raw)": httpx_floor,
        "transport (SSE + JSON)": transport,
        "core (codec + bookkeeping)": core,
        "ChatLunos._stream": lambda: _count(chat._stream(lc_messages)),
        "ChatLunos.stream (LangChain loop)": lambda: _count(chat.stream(prompt)),
        "LunosLLM._stream_chat": lambda: _count(llm._stream_chat(li_messages)),
        "LunosLLM.stream_chat (LlamaIndex wrapper)": lambda: _count(llm.stream_chat(li_messages)),
    }


def measure(api: Route, chunks: int, rounds: int, calls: int) -> list[tuple[str, float]]:
    """Best CPU milliseconds per reply for each layer."""
    with bench_server() as (base_url, api_key):
        layers = _layers(base_url, api_key, api, chunks)
        for fn in layers.values():  # warm-up: connections, caches, the catalogue
            for _ in range(5):
                fn()
        best = {name: float("inf") for name in layers}
        for _ in range(rounds):
            for name, fn in layers.items():
                gc.collect()
                c0 = time.process_time()
                for _ in range(calls):
                    fn()
                best[name] = min(best[name], (time.process_time() - c0) / calls * 1000)
    return list(best.items())


def render(api: Route, chunks: int, rows: list[tuple[str, float]]) -> str:
    lines = [
        f"### {api}, {chunks}-chunk reply (best of the rounds, CPU of this process)",
        "",
        "| layer | ms per reply | added by this layer (ms) | µs per chunk added |",
        "|---|---:|---:|---:|",
    ]
    previous: float | None = None
    for name, ms in rows:
        if name.startswith("LunosLLM._stream_chat"):
            previous = dict(rows)["core (codec + bookkeeping)"]
        added = "" if previous is None else f"{ms - previous:+.2f}"
        per_chunk = "" if previous is None else f"{(ms - previous) / chunks * 1000:+.1f}"
        lines.append(f"| {name} | {ms:.2f} | {added} | {per_chunk} |")
        previous = ms
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.layers", description=__doc__)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--calls", type=int, default=10, help="replies per round")
    parser.add_argument("--api", choices=["chat_completions", "messages", "both"], default="both")
    args = parser.parse_args(argv)
    apis: list[Route] = ["chat_completions", "messages"] if args.api == "both" else [args.api]
    for api in apis:
        rows = measure(api, args.chunks, args.rounds, args.calls)
        print(render(api, args.chunks, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
