"""Our spans are children of the caller's: a parent span, LangChain's and LlamaIndex's runs.

The framework tracers here are the smallest honest stand-ins for those frameworks' own
OpenTelemetry integrations: a LangChain callback handler and a LlamaIndex span handler
that open an OTel span per run and make it current, as those integrations do. The check
is that ours comes out as the child of theirs, exactly once, never beside or instead.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace

from lunos_integrations.langchain import ChatLunos
from lunos_integrations.observe import watching
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.wire.types import ChatRequest, Message

from .conftest import Otel


def _chat(text: str = "hello") -> ChatRequest:
    return ChatRequest(model="openai/gpt-4o", messages=[Message("user", text)])


def _ours(otel: Otel) -> list[Any]:
    return [s for s in otel.spans() if s.name.startswith("chat ")]


def test_nests_under_the_current_span_and_sends_its_trace(
    otel: Otel, server: LocalLunosServer
) -> None:
    tracer = otel.tracer_provider.get_tracer("web")
    with otel.client(server) as client, tracer.start_as_current_span("GET /answer") as parent:
        client.chat(_chat())
        list(client.stream_chat(_chat()))
    ours = _ours(otel)
    assert len(ours) == 2
    for span in ours:
        assert span.parent is not None
        assert span.parent.span_id == parent.get_span_context().span_id
        assert span.context.trace_id == parent.get_span_context().trace_id
    trace_id = f"{parent.get_span_context().trace_id:032x}"
    assert [r.headers["traceparent"].split("-")[1] for r in server.requests] == [trace_id] * 2


async def test_each_task_nests_under_its_own_parent(otel: Otel, server: LocalLunosServer) -> None:
    tracer = otel.tracer_provider.get_tracer("web")

    async def handle(name: str) -> int:
        with tracer.start_as_current_span(name) as parent:
            await client.achat(_chat(name))
            async for _ in client.astream_chat(_chat(name)):
                await asyncio.sleep(0)
            return parent.get_span_context().span_id

    async with otel.client(server) as client:
        a, b = await asyncio.gather(handle("a"), handle("b"))
    parents = sorted(s.parent.span_id for s in _ours(otel))  # type: ignore[union-attr]
    assert parents == sorted([a, a, b, b])


class OTelCallbacks(BaseCallbackHandler):
    """A LangChain tracer: one current OTel span per chat model run."""

    run_inline = True

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self.open: dict[UUID, tuple[Any, object]] = {}

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any
    ) -> None:
        span = self.tracer.start_span("langchain ChatLunos")
        token = otel_context.attach(trace.set_span_in_context(span))
        self.open[run_id] = (span, token)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kw: Any) -> None:
        span, token = self.open.pop(run_id)
        otel_context.detach(token)  # type: ignore[arg-type]
        span.end()

    on_llm_error = on_llm_end  # type: ignore[assignment]


def test_langchain_runs_have_our_span_as_their_child(otel: Otel, server: LocalLunosServer) -> None:
    callbacks = OTelCallbacks(otel.tracer_provider.get_tracer("langchain"))
    model = ChatLunos(model="openai/gpt-4o", api_key=server.api_key, base_url=server.base_url)
    with watching(otel.telemetry()):
        model.invoke("hello", config={"callbacks": [callbacks]})
        list(model.stream("hello", config={"callbacks": [callbacks]}))
    framework = [s for s in otel.spans() if s.name == "langchain ChatLunos"]
    ours = _ours(otel)
    assert len(framework) == 2 and len(ours) == 2  # one of ours per run, no duplicates
    for run, span in zip(framework, ours, strict=True):
        assert span.parent is not None and span.parent.span_id == run.context.span_id
    assert callbacks.open == {}


def test_llama_index_spans_have_our_span_as_their_child(
    otel: Otel, server: LocalLunosServer
) -> None:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.span.simple import SimpleSpan
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler

    from lunos_integrations.llama_index import LunosLLM

    tracer = otel.tracer_provider.get_tracer("llama_index")
    opened: dict[str, tuple[Any, object]] = {}

    class OTelSpans(BaseSpanHandler[SimpleSpan]):
        def new_span(self, id_: str, bound_args: Any, instance: Any = None, **kw: Any) -> Any:
            if "LunosLLM.chat" not in id_:
                return None
            span = tracer.start_span(f"llama_index {id_.split('-')[0]}")
            opened[id_] = (span, otel_context.attach(trace.set_span_in_context(span)))
            return SimpleSpan(id_=id_)

        def prepare_to_exit_span(self, id_: str, bound_args: Any, **kw: Any) -> Any:
            if id_ in opened:
                span, token = opened.pop(id_)
                otel_context.detach(token)  # type: ignore[arg-type]
                span.end()
                return SimpleSpan(id_=id_)
            return None

        prepare_to_drop_span = prepare_to_exit_span

    handler = OTelSpans()
    dispatcher = get_dispatcher()
    dispatcher.add_span_handler(handler)
    try:
        llm = LunosLLM(model="openai/gpt-4o", api_key=server.api_key, base_url=server.base_url)
        with watching(otel.telemetry()):
            llm.chat([ChatMessage(role="user", content="hello")])
    finally:
        dispatcher.span_handlers.remove(handler)
    framework = [s for s in otel.spans() if s.name.startswith("llama_index")]
    ours = _ours(otel)
    assert len(framework) == 1 and len(ours) == 1
    assert ours[0].parent is not None
    assert ours[0].parent.span_id == framework[0].context.span_id


async def test_async_adapters_nest_under_the_callers_span(
    otel: Otel, server: LocalLunosServer
) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    from lunos_integrations.llama_index import LunosLLM

    tracer = otel.tracer_provider.get_tracer("web")
    kw = {"api_key": server.api_key, "base_url": server.base_url}
    chat = ChatLunos(model="openai/gpt-4o", **kw)
    llm = LunosLLM(model="openai/gpt-4o", **kw)
    with watching(otel.telemetry()), tracer.start_as_current_span("job") as parent:
        await chat.ainvoke("hello")
        async for _ in chat.astream("hello"):
            pass
        await llm.achat([ChatMessage(role="user", content="hello")])
        async for _ in await llm.astream_chat([ChatMessage(role="user", content="hello")]):
            pass
    ours = _ours(otel)
    assert [s.attributes["gen_ai.request.stream"] for s in ours] == [  # type: ignore[index]
        False,
        True,
        False,
        True,
    ]
    assert {s.parent.span_id for s in ours} == {parent.get_span_context().span_id}  # type: ignore[union-attr]
