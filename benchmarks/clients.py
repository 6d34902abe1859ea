"""The clients under test, each behind the same five calls.

Why one small adapter per client: the worker must drive ``ChatOpenAI``, ``ChatAnthropic``,
``OpenAILike``, our ``ChatLunos``/``LunosLLM`` and a raw-httpx floor with *identical* requests
(same model, prompt, ``max_tokens``) so that the only difference measured is the client. Each
adapter imports its library inside :meth:`Bench.build`, so a worker process loads only the
client it measures.

Every call returns the number of content pieces it saw, which the worker checks, so a client
that silently received fewer chunks cannot look fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

Route = Literal["chat_completions", "messages"]

CHAT_MODEL = "openai/gpt-4o"
MESSAGES_MODEL = "anthropic/claude-sonnet-4"
MAX_TOKENS = 8192
"""Large enough that the fake model never truncates a 2,000-chunk answer."""


@dataclass(frozen=True)
class Target:
    """Where the benchmark server listens."""

    base_url: str  # http://127.0.0.1:PORT/v1
    api_key: str

    @property
    def root_url(self) -> str:
        return self.base_url[: -len("/v1")]


class Bench:
    """Base adapter. ``prompt`` is a user message; calls return content pieces received."""

    name = ""
    route: Route = "chat_completions"

    def build(self, target: Target) -> None:
        raise NotImplementedError

    def invoke(self, prompt: str) -> int:
        raise NotImplementedError

    def stream(self, prompt: str) -> int:
        raise NotImplementedError

    async def ainvoke(self, prompt: str) -> int:
        raise NotImplementedError

    async def astream(self, prompt: str, on_first: Callable[[], None] | None = None) -> int:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release async resources (called once, inside the worker's event loop)."""


# ---------------------------------------------------------------------------- raw httpx


class RawHttpxChat(Bench):
    """The floor: httpx plus ``json.loads``, no client library, chat-completions route."""

    name = "raw httpx (chat_completions)"
    path = "/chat/completions"
    model = CHAT_MODEL

    def build(self, target: Target) -> None:
        import httpx

        self.httpx = httpx
        headers = {
            "Authorization": f"Bearer {target.api_key}",
            "Content-Type": "application/json",
        }
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        self.client = httpx.Client(base_url=target.base_url, headers=headers, limits=limits)
        self.aclient = httpx.AsyncClient(
            base_url=target.base_url, headers=headers, limits=limits, timeout=60
        )

    def body(self, prompt: str, stream: bool) -> bytes:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": MAX_TOKENS,
        }
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return json.dumps(body).encode()

    def text_of(self, data: dict[str, Any]) -> str:
        return str(data["choices"][0]["message"]["content"])

    def piece_of(self, line: str) -> int:
        if not line.startswith("data: ") or line == "data: [DONE]":
            return 0
        choices = json.loads(line[6:]).get("choices")
        return 1 if choices and choices[0]["delta"].get("content") else 0

    def invoke(self, prompt: str) -> int:
        response = self.client.post(self.path, content=self.body(prompt, False))
        response.raise_for_status()
        return 1 if self.text_of(response.json()) else 0

    def stream(self, prompt: str) -> int:
        n = 0
        with self.client.stream("POST", self.path, content=self.body(prompt, True)) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                n += self.piece_of(line)
        return n

    async def ainvoke(self, prompt: str) -> int:
        response = await self.aclient.post(self.path, content=self.body(prompt, False))
        response.raise_for_status()
        return 1 if self.text_of(response.json()) else 0

    async def astream(self, prompt: str, on_first: Callable[[], None] | None = None) -> int:
        n = 0
        async with self.aclient.stream(
            "POST", self.path, content=self.body(prompt, True)
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if on_first is not None and n == 0 and line:
                    on_first()
                    on_first = None
                n += self.piece_of(line)
        return n

    async def aclose(self) -> None:
        await self.aclient.aclose()


class RawHttpxMessages(RawHttpxChat):
    """The floor for the Anthropic Messages route."""

    name = "raw httpx (messages)"
    route: Route = "messages"
    path = "/messages"
    model = MESSAGES_MODEL

    def body(self, prompt: str, stream: bool) -> bytes:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": MAX_TOKENS,
        }
        if stream:
            body["stream"] = True
        return json.dumps(body).encode()

    def text_of(self, data: dict[str, Any]) -> str:
        return "".join(b.get("text", "") for b in data["content"])

    def piece_of(self, line: str) -> int:
        if not line.startswith("data: "):
            return 0
        event = json.loads(line[6:])
        if event.get("type") != "content_block_delta":
            return 0
        return 1 if event["delta"].get("text") else 0


# ---------------------------------------------------------------------------- LangChain


class LangChainBench(Bench):
    """Drives any LangChain chat model with ``invoke``/``stream``/``ainvoke``/``astream``."""

    llm: Any

    @staticmethod
    def _pieces(chunk: Any) -> int:
        return 1 if chunk.content else 0

    def invoke(self, prompt: str) -> int:
        return 1 if self.llm.invoke(prompt).content else 0

    def stream(self, prompt: str) -> int:
        return sum(self._pieces(c) for c in self.llm.stream(prompt))

    async def ainvoke(self, prompt: str) -> int:
        return 1 if (await self.llm.ainvoke(prompt)).content else 0

    async def astream(self, prompt: str, on_first: Callable[[], None] | None = None) -> int:
        n = 0
        async for c in self.llm.astream(prompt):
            if on_first is not None:
                on_first()
                on_first = None
            n += self._pieces(c)
        return n


class ChatOpenAIBench(LangChainBench):
    name = "ChatOpenAI"

    def build(self, target: Target) -> None:
        from langchain_openai import ChatOpenAI

        self.llm = ChatOpenAI(
            model=CHAT_MODEL,
            base_url=target.base_url,
            api_key=target.api_key,  # type: ignore[arg-type]
            stream_usage=True,
            max_tokens=MAX_TOKENS,  # type: ignore[call-arg]
        )


class ChatAnthropicBench(LangChainBench):
    name = "ChatAnthropic"
    route: Route = "messages"

    def build(self, target: Target) -> None:
        from langchain_anthropic import ChatAnthropic

        self.llm = ChatAnthropic(  # type: ignore[call-arg]
            model=MESSAGES_MODEL,
            base_url=target.root_url,
            api_key=SecretStr(target.api_key),
            max_tokens=MAX_TOKENS,
        )

    @staticmethod
    def _pieces(chunk: Any) -> int:
        content = chunk.content
        if isinstance(content, str):
            return 1 if content else 0
        return 1 if any(isinstance(b, dict) and b.get("text") for b in content) else 0


class ChatLunosBench(LangChainBench):
    name = "ChatLunos (chat_completions)"

    def build(self, target: Target) -> None:
        from lunos_integrations.langchain import ChatLunos

        model = MESSAGES_MODEL if self.route == "messages" else CHAT_MODEL
        self.llm = ChatLunos(
            model=model,
            base_url=target.base_url,
            api_key=SecretStr(target.api_key),
            api=self.route,
            max_tokens=MAX_TOKENS,
        )


class ChatLunosMessagesBench(ChatLunosBench):
    name = "ChatLunos (messages)"
    route: Route = "messages"

    _pieces = staticmethod(ChatAnthropicBench._pieces)


# ---------------------------------------------------------------------------- LlamaIndex


class LlamaIndexBench(Bench):
    """Drives a LlamaIndex LLM with ``chat``/``stream_chat``/``achat``/``astream_chat``."""

    llm: Any

    def _messages(self, prompt: str) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role="user", content=prompt)]

    def invoke(self, prompt: str) -> int:
        return 1 if self.llm.chat(self._messages(prompt)).message.content else 0

    def stream(self, prompt: str) -> int:
        return sum(1 for r in self.llm.stream_chat(self._messages(prompt)) if r.delta)

    async def ainvoke(self, prompt: str) -> int:
        return 1 if (await self.llm.achat(self._messages(prompt))).message.content else 0

    async def astream(self, prompt: str, on_first: Callable[[], None] | None = None) -> int:
        n = 0
        async for r in await self.llm.astream_chat(self._messages(prompt)):
            if on_first is not None:
                on_first()
                on_first = None
            n += 1 if r.delta else 0
        return n


class OpenAILikeBench(LlamaIndexBench):
    name = "OpenAILike"

    def build(self, target: Target) -> None:
        from llama_index.llms.openai_like import OpenAILike  # type: ignore[import-untyped]

        self.llm = OpenAILike(
            model=CHAT_MODEL,
            api_base=target.base_url,
            api_key=target.api_key,
            is_chat_model=True,
            is_function_calling_model=True,
            context_window=128_000,
            max_tokens=MAX_TOKENS,
        )


class LunosLLMBench(LlamaIndexBench):
    name = "LunosLLM (chat_completions)"

    def build(self, target: Target) -> None:
        from lunos_integrations.llama_index import LunosLLM

        model = MESSAGES_MODEL if self.route == "messages" else CHAT_MODEL
        self.llm = LunosLLM(
            model=model,
            base_url=target.base_url,
            api_key=target.api_key,
            api=self.route,
            max_tokens=MAX_TOKENS,
        )


class LunosLLMMessagesBench(LunosLLMBench):
    name = "LunosLLM (messages)"
    route: Route = "messages"


# ---------------------------------------------------------------------------- core


class LunosClientBench(Bench):
    """``LunosClient`` alone: what the adapters add on top of the core is the difference."""

    name = "LunosClient core (chat_completions)"

    def build(self, target: Target) -> None:
        from lunos_integrations.client import LunosClient
        from lunos_integrations.wire.types import ChatRequest, Message

        self.client = LunosClient(base_url=target.base_url, api_key=target.api_key)
        model = MESSAGES_MODEL if self.route == "messages" else CHAT_MODEL

        def request(prompt: str) -> Any:
            return ChatRequest(
                model=model,
                messages=[Message(role="user", content=prompt)],
                max_tokens=MAX_TOKENS,
            )

        self.request = request

    def invoke(self, prompt: str) -> int:
        result = self.client.chat(self.request(prompt), api=self.route)
        return 1 if result.text else 0

    def stream(self, prompt: str) -> int:
        deltas = self.client.stream_chat(self.request(prompt), api=self.route)
        return sum(1 for d in deltas if d.text)

    async def ainvoke(self, prompt: str) -> int:
        result = await self.client.achat(self.request(prompt), api=self.route)
        return 1 if result.text else 0

    async def astream(self, prompt: str, on_first: Callable[[], None] | None = None) -> int:
        n = 0
        async for d in self.client.astream_chat(self.request(prompt), api=self.route):
            if on_first is not None:
                on_first()
                on_first = None
            n += 1 if d.text else 0
        return n

    async def aclose(self) -> None:
        await self.client.aclose()


BENCHES: dict[str, type[Bench]] = {
    "raw_chat": RawHttpxChat,
    "raw_messages": RawHttpxMessages,
    "lunos_client": LunosClientBench,
    "chat_openai": ChatOpenAIBench,
    "chat_lunos": ChatLunosBench,
    "chat_anthropic": ChatAnthropicBench,
    "chat_lunos_messages": ChatLunosMessagesBench,
    "openai_like": OpenAILikeBench,
    "lunos_llm": LunosLLMBench,
    "lunos_llm_messages": LunosLLMMessagesBench,
}
"""Stable ids (used on the command line and in the JSON) -> adapter."""

NEEDS_MODULE: dict[str, str] = {
    "chat_lunos": "lunos_integrations.langchain",
    "chat_lunos_messages": "lunos_integrations.langchain",
    "lunos_llm": "lunos_integrations.llama_index",
    "lunos_llm_messages": "lunos_integrations.llama_index",
}
"""Clients that depend on modules still being written; skipped with a reason if absent."""
