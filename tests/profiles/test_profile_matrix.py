"""The adapters' key flows against every catalog profile of the local server.

Why: the local server used to list every parameter for every model, so nothing could see
what happens against a server that behaves as the Lunos docs describe. Each flow here
(invoke, stream with usage and cost, tools with ``tool_choice``, structured output by
every method, ``stop``, ``seed``, embeddings — both routes, both frameworks, sync and
async) runs against each profile (:data:`lunos_integrations.testing.catalog.CATALOG_PROFILES`)
and must:

* succeed, and report usage for every call (``track_usage`` counts it exactly once);
* give the same result as under ``"full"`` whenever the server accepted every parameter
  the flow depends on (a parameter the server rejected is dropped by design, so the reply
  may legitimately differ then);
* carry a cost when the catalog was available (full, documented, strict);
* send ``stop`` / ``seed`` to the server whenever the server accepts them.

One server per profile for the whole module keeps the matrix cheap.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

from lunos_integrations import track_usage
from lunos_integrations.catalog import shared_catalog
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.catalog import CATALOG_PROFILES

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.filterwarnings(
        "ignore::lunos_integrations.parameters.LunosUnsupportedParameterWarning"
    ),
    pytest.mark.filterwarnings("ignore::lunos_integrations.catalog.LunosCatalogWarning"),
]

CHAT_MODEL = {"chat_completions": "openai/gpt-4o-mini", "messages": "anthropic/claude-sonnet-4"}
EMBED_MODEL = "openai/text-embedding-3-small"
#: Profiles whose catalog is there in time to price the first call.
PRICED = ("full", "documented", "strict")


class City(BaseModel):
    """A city and its country."""

    name: str
    country: str


def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, LocalLunosServer]]:
    started = {
        p: LocalLunosServer(catalog_profile=p, catalog_delay=1.0).start()  # type: ignore[arg-type]
        for p in CATALOG_PROFILES
    }
    try:
        yield started
    finally:
        for srv in started.values():
            srv.stop()


@pytest.fixture(autouse=True)
def _production_bound_for_the_slow_catalog(servers: dict[str, LocalLunosServer]) -> None:
    """The suite prices patiently (tests/conftest.py); ``"slow"`` keeps the 50 ms bound,
    since its point is a catalog that arrives after the call (whose cost is then None)."""
    shared_catalog(servers["slow"].base_url).price_wait = 0.05


@dataclass
class Flow:
    name: str
    run: Callable[[LocalLunosServer, str, bool], Any]
    #: Wire keys the result depends on, per route (a rejection of one voids the comparison).
    needs: dict[str, frozenset[str]] = field(default_factory=dict)
    routes: tuple[str, ...] = ("chat_completions", "messages")
    #: Wire keys that must reach the server whenever it accepts them.
    must_send: dict[str, frozenset[str]] = field(default_factory=dict)


def _settings(srv: LocalLunosServer) -> dict[str, Any]:
    return {"base_url": srv.base_url, "api_key": srv.api_key, "max_retries": 0}


def _call(is_async: bool, sync: Callable[[], Any], coro: Callable[[], Any]) -> Any:
    return asyncio.run(coro()) if is_async else sync()


# ------------------------------------------------------------------ LangChain flows


def _lc(srv: LocalLunosServer, route: str, **kw: Any) -> Any:
    from lunos_integrations.langchain import ChatLunos

    return ChatLunos(model=CHAT_MODEL[route], api=route, **_settings(srv), **kw)  # type: ignore[arg-type]


def lc_invoke(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    m = _lc(srv, route)
    msg = _call(is_async, lambda: m.invoke("Say hello"), lambda: m.ainvoke("Say hello"))
    return msg.content


def lc_stream(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    m = _lc(srv, route)

    async def agen() -> list[Any]:
        return [c async for c in m.astream("Tell me a short story")]

    chunks = _call(is_async, lambda: list(m.stream("Tell me a short story")), agen)
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1  # usage exactly once
    usage = with_usage[0].usage_metadata
    return ("".join(str(c.content) for c in chunks), usage["input_tokens"], usage["output_tokens"])


def lc_tools(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    m = _lc(srv, route).bind_tools([get_weather], tool_choice="get_weather")
    prompt = "What is the weather in Paris? Use get_weather."
    msg = _call(is_async, lambda: m.invoke(prompt), lambda: m.ainvoke(prompt))
    return [(c["name"], sorted(c["args"])) for c in msg.tool_calls]


def _lc_structured(method: str) -> Callable[[LocalLunosServer, str, bool], Any]:
    def run(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
        # json_mode sends no schema (the fake model then answers a generic object), so it
        # is parsed as a plain dict rather than validated as City.
        schema: Any = City.model_json_schema() if method == "json_mode" else City
        m = _lc(srv, route).with_structured_output(schema, method=method)  # type: ignore[arg-type]
        prompt = "Extract the city: Paris is in France"
        out = _call(is_async, lambda: m.invoke(prompt), lambda: m.ainvoke(prompt))
        return out.model_dump() if isinstance(out, BaseModel) else out

    return run


def lc_stop(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    m = _lc(srv, route)
    prompt = "Repeat after me: alpha beta gamma delta"
    msg = _call(
        is_async,
        lambda: m.invoke(prompt, stop=["gamma"]),
        lambda: m.ainvoke(prompt, stop=["gamma"]),
    )
    return msg.content


def lc_seed(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    m = _lc(srv, route, seed=7)
    msg = _call(is_async, lambda: m.invoke("Say hello"), lambda: m.ainvoke("Say hello"))
    return msg.content


def lc_embeddings(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    from lunos_integrations.langchain import LunosEmbeddings

    e = LunosEmbeddings(model=EMBED_MODEL, **_settings(srv))
    texts = ["alpha", "beta"]
    vectors = _call(is_async, lambda: e.embed_documents(texts), lambda: e.aembed_documents(texts))
    return [[round(x, 6) for x in v[:4]] for v in vectors]


# ------------------------------------------------------------------ LlamaIndex flows


def _li(srv: LocalLunosServer, route: str, **kw: Any) -> Any:
    from lunos_integrations.llama_index import LunosLLM

    return LunosLLM(model=CHAT_MODEL[route], api=route, **_settings(srv), **kw)


def _user(text: str) -> list[Any]:
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role="user", content=text)]


def li_chat(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    llm = _li(srv, route)
    msgs = _user("Say hello")
    return _call(is_async, lambda: llm.chat(msgs), lambda: llm.achat(msgs)).message.content


def li_stream(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    llm = _li(srv, route)
    msgs = _user("Tell me a short story")

    async def agen() -> list[Any]:
        return [r async for r in await llm.astream_chat(msgs)]

    responses = _call(is_async, lambda: list(llm.stream_chat(msgs)), agen)
    return responses[-1].message.content


def li_tools(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    from llama_index.core.tools import FunctionTool

    llm = _li(srv, route)
    tool = FunctionTool.from_defaults(fn=get_weather)
    prompt = "What is the weather in Paris? Use get_weather."
    response = _call(
        is_async,
        lambda: llm.chat_with_tools([tool], user_msg=prompt, tool_choice="get_weather"),
        lambda: llm.achat_with_tools([tool], user_msg=prompt, tool_choice="get_weather"),
    )
    calls = llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    return [(c.tool_name, sorted(c.tool_kwargs)) for c in calls]


def _li_structured(method: str) -> Callable[[LocalLunosServer, str, bool], Any]:
    def run(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
        from llama_index.core.prompts import PromptTemplate

        llm = _li(srv, route, structured_output_method=method)
        prompt = PromptTemplate("Extract the city: {text}")
        out = _call(
            is_async,
            lambda: llm.structured_predict(City, prompt, text="Paris is in France"),
            lambda: llm.astructured_predict(City, prompt, text="Paris is in France"),
        )
        return out.model_dump()

    return run


def li_stop(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    llm = _li(srv, route, stop=["gamma"])
    msgs = _user("Repeat after me: alpha beta gamma delta")
    return _call(is_async, lambda: llm.chat(msgs), lambda: llm.achat(msgs)).message.content


def li_seed(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    llm = _li(srv, route, seed=7)
    msgs = _user("Say hello")
    return _call(is_async, lambda: llm.chat(msgs), lambda: llm.achat(msgs)).message.content


def li_embeddings(srv: LocalLunosServer, route: str, is_async: bool) -> Any:
    from lunos_integrations.llama_index import LunosEmbedding

    e = LunosEmbedding(model_name=EMBED_MODEL, **_settings(srv))
    texts = ["alpha", "beta"]
    vectors = _call(
        is_async,
        lambda: e.get_text_embedding_batch(texts),
        lambda: e.aget_text_embedding_batch(texts),
    )
    return [[round(x, 6) for x in v[:4]] for v in vectors]


def _both(chat: set[str], messages: set[str]) -> dict[str, frozenset[str]]:
    return {"chat_completions": frozenset(chat), "messages": frozenset(messages)}


STOP = _both({"stop"}, {"stop_sequences"})
TOOLS = _both({"tools", "tool_choice"}, {"tools", "tool_choice"})
FLOWS = [
    Flow("lc_invoke", lc_invoke),
    Flow("lc_stream", lc_stream, needs=_both({"stream_options"}, set())),
    Flow("lc_tools", lc_tools, needs=TOOLS),
    Flow(
        "lc_structured_json_schema",
        _lc_structured("json_schema"),
        needs=_both({"response_format"}, {"output_config"}),
    ),
    Flow(
        "lc_structured_json_mode",
        _lc_structured("json_mode"),
        needs=_both({"response_format"}, set()),
        routes=("chat_completions",),
    ),
    Flow("lc_structured_function_calling", _lc_structured("function_calling"), needs=TOOLS),
    Flow("lc_stop", lc_stop, needs=STOP, must_send=STOP),
    Flow(
        "lc_seed",
        lc_seed,
        needs=_both({"seed"}, set()),
        routes=("chat_completions",),  # the Messages API has no seed
        must_send=_both({"seed"}, set()),
    ),
    Flow("lc_embeddings", lc_embeddings, routes=("chat_completions",)),
    Flow("li_chat", li_chat),
    Flow("li_stream", li_stream, needs=_both({"stream_options"}, set())),
    Flow("li_tools", li_tools, needs=TOOLS),
    Flow(
        "li_structured_json_schema",
        _li_structured("json_schema"),
        needs=_both({"response_format"}, {"output_config"}),
    ),
    Flow("li_structured_function_calling", _li_structured("function_calling"), needs=TOOLS),
    Flow("li_stop", li_stop, needs=STOP, must_send=STOP),
    Flow(
        "li_seed",
        li_seed,
        needs=_both({"seed"}, set()),
        routes=("chat_completions",),
        must_send=_both({"seed"}, set()),
    ),
    Flow("li_embeddings", li_embeddings, routes=("chat_completions",)),
]

CASES = [
    pytest.param(flow, route, is_async, id=f"{flow.name}-{route}-{'async' if is_async else 'sync'}")
    for flow in FLOWS
    for route in flow.routes
    for is_async in (False, True)
]

#: Results under "full", computed once per case (the reference every profile must match).
_REFERENCE: dict[tuple[str, str, bool], Any] = {}
#: profile -> outcome -> count, printed at the end of the module (run with -s to see it).
_TABLE: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module", autouse=True)
def _results_table() -> Iterator[None]:
    yield
    if _TABLE:
        print(
            "\n| profile | cases | same as full "
            "| not compared (the server rejected a parameter the flow needs) |"
        )
        print("|---|---|---|---|")
        for profile in CATALOG_PROFILES:
            row = _TABLE.get(profile, {})
            total = row.get("same", 0) + row.get("rejected", 0)
            print(f"| {profile} | {total} | {row.get('same', 0)} | {row.get('rejected', 0)} |")


def _run(flow: Flow, srv: LocalLunosServer, route: str, is_async: bool) -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with track_usage() as usage:
            result = flow.run(srv, route, is_async)
    return result, usage


def _sent(srv: LocalLunosServer, since: int) -> list[dict[str, Any]]:
    return [
        r.json
        for r in srv.requests[since:]
        if isinstance(r.json, dict) and r.path.endswith(("/chat/completions", "/messages"))
    ]


@pytest.mark.parametrize("profile", CATALOG_PROFILES)
@pytest.mark.parametrize(("flow", "route", "is_async"), CASES)
def test_flow_under_profile(
    servers: dict[str, LocalLunosServer], flow: Flow, route: str, is_async: bool, profile: str
) -> None:
    key = (flow.name, route, is_async)
    if key not in _REFERENCE:
        _REFERENCE[key] = _run(flow, servers["full"], route, is_async)[0]
    srv = servers[profile]
    since = len(srv.requests)
    result, usage = _run(flow, srv, route, is_async)

    assert usage.requests >= 1  # every call reported its usage (exactly once per call)
    if profile in PRICED:
        assert usage.cost_complete and usage.total_cost > 0, usage
    else:
        assert usage.input_tokens > 0  # tokens exact even when no price is known

    model = EMBED_MODEL if "embeddings" in flow.name else CHAT_MODEL[route]
    rejected = shared_catalog(srv.base_url).parameters.rejected(model)
    needs = flow.needs.get(route, frozenset())
    row = _TABLE.setdefault(profile, {})
    if not (needs & rejected):
        assert result == _REFERENCE[key]
        row["same"] = row.get("same", 0) + 1
    else:
        row["rejected"] = row.get("rejected", 0) + 1
    for name in flow.must_send.get(route, frozenset()) - rejected:
        assert any(name in body for body in _sent(srv, since)), (name, profile)
