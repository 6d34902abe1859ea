"""Shared pieces of the process tests: models of both adapters, one call each way, checks.

Every prompt is unique and the local server's fake model echoes it ("Hello! You said:
<prompt>"), so an answer that belongs to another prompt (another process's request read
from a shared socket) is caught by :func:`matches`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from llama_index.core.llms import ChatMessage

from lunos_integrations.langchain import ChatLunos
from lunos_integrations.llama_index import LunosLLM
from lunos_integrations.testing import LocalLunosServer, RecordedRequest

Adapter = Literal["langchain", "llama_index"]
ADAPTERS: tuple[Adapter, ...] = ("langchain", "llama_index")
ROUTES = ("chat_completions", "messages")
MODELS = {"chat_completions": "openai/gpt-4o", "messages": "anthropic/claude-sonnet-4"}


def build(adapter: Adapter, api: str, server: LocalLunosServer, **kw: Any) -> Any:
    """A chat model of ``adapter`` on route ``api``; bounded timeouts, no retries."""
    settings: dict[str, Any] = {
        "api_key": server.api_key,
        "base_url": server.base_url,
        "api": api,
        "max_retries": 0,
        "timeout": 20,
        **kw,
    }
    if adapter == "langchain":
        return ChatLunos(model=MODELS[api], **settings)
    return LunosLLM(model=MODELS[api], **settings)


def ask(model: Any, prompt: str) -> str:
    if isinstance(model, ChatLunos):
        return str(model.invoke(prompt).content)
    return str(model.chat([ChatMessage(role="user", content=prompt)]).message.content)


async def aask(model: Any, prompt: str) -> str:
    if isinstance(model, ChatLunos):
        return str((await model.ainvoke(prompt)).content)
    message = ChatMessage(role="user", content=prompt)
    return str((await model.achat([message])).message.content)


def ask_many_async(model: Any, prompts: Sequence[str]) -> list[str]:
    """All prompts concurrently in one ``asyncio.run`` (a fresh loop, as scripts do)."""

    async def run() -> list[str]:
        return list(await asyncio.gather(*(aask(model, p) for p in prompts)))

    return asyncio.run(run())


def matches(prompt: str, answer: str) -> bool:
    return answer == f"Hello! You said: {prompt}"


def crossed(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(prompt, answer) pairs whose answer is not the echo of their own prompt."""
    return [(p, a) for p, a in pairs if not matches(p, a)]


def prompt_of(request: RecordedRequest) -> str | None:
    """The last user text of a recorded chat request (either route)."""
    body = request.json
    if not isinstance(body, dict) or not body.get("messages"):
        return None
    content = body["messages"][-1].get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else None


def connections_by_prompt(server: LocalLunosServer) -> dict[str, int]:
    """Prompt -> number of the server connection its request arrived on."""
    out: dict[str, int] = {}
    for request in server.requests:
        prompt = prompt_of(request)
        if prompt is not None:
            out[prompt] = request.connection
    return out


def socket_fds() -> int:
    """Open socket file descriptors of this process (Linux /proc)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def answer_in_worker(model: Any, prompts: list[str], use_async: bool) -> dict[str, Any]:
    """A distributed task: ``batch`` (or ``abatch`` in a fresh loop) in a worker process.

    Returns the worker's pid, each (prompt, answer) and the usage the worker tracked, so
    the parent can match answers to prompts and add up usage across processes.
    """
    from lunos_integrations.usage import track_usage

    with track_usage() as usage:
        if use_async:
            outputs = asyncio.run(model.abatch(prompts))
        else:
            outputs = model.batch(prompts, config={"max_concurrency": 4})
    totals = usage.snapshot()
    return {
        "pid": os.getpid(),
        "pairs": [(p, str(o.content)) for p, o in zip(prompts, outputs, strict=True)],
        "requests": totals["requests"],
        "total_tokens": totals["total_tokens"],
        "reported_tokens": sum(o.usage_metadata["total_tokens"] for o in outputs),
    }


def rerun_without_xdist(request: Any) -> bool:
    """Under pytest-xdist, run this test again in a plain pytest process; True if done.

    Why: an xdist worker has execnet's I/O threads running beside the test. A fork made
    from C (not ``os.fork``) skips every at-fork hook, CPython's own included, so a lock
    one of those threads held at that instant stays held in the child for ever, and the
    child hangs in code that is not ours. In a plain pytest process the only threads are
    the ones the test made, which is the situation the test is about. The outcome is the
    plain run's: its failure fails this test, with its output.
    """
    import subprocess
    import sys

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return False
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env.pop("PYTEST_CURRENT_TEST", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", request.node.nodeid],
        cwd=str(request.config.rootpath),
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return True
