"""The API key must never leave the Authorization header of a request to the Lunos origin.

Checked: ``repr``/``str`` of models, clients and configs; framework serialisation
(LangChain ``dumpd``/``dumps``, LlamaIndex ``to_dict``/``to_json``); tracing parameters;
callback and instrumentation payloads; exceptions (message, repr, attributes, chained
causes, formatted traceback); DEBUG logs of every logger; and cross-origin redirects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from reliability_harness import ALL, Driver, answer_for
from secret_sweep import SWEEP, SWEEP_KEY, exception_texts

from lunos_integrations.errors import APIConnectionError, LunosError
from lunos_integrations.testing import (
    Disconnect,
    ErrorReply,
    LocalLunosServer,
    RawReply,
    StreamFault,
)

KEY = SWEEP_KEY
PROMPT = "is my key safe"


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[LocalLunosServer]:
    with LocalLunosServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def ks(keyed_server: LocalLunosServer) -> LocalLunosServer:
    keyed_server.reset()
    return keyed_server


def _plain(driver: Driver, server: LocalLunosServer, **kwargs: Any) -> Any:
    """The adapter exactly as a user builds it (no client swapped in)."""
    kwargs.setdefault("max_retries", 0)
    return driver.build(server.base_url, KEY, retry_backoff=None, max_retry_wait=None, **kwargs)


def assert_no_key(where: str, value: Any) -> None:
    text = value if isinstance(value, str) else repr(value)
    assert not SWEEP.find({where: text}), f"(part of) the API key leaked into {where}"


# ---------------------------------------------------------------------------- objects


@pytest.mark.parametrize("api", ["chat_completions", "messages"])
def test_langchain_model_repr_and_serialisation(api: str, ks: LocalLunosServer) -> None:
    from langchain_core.load import dumpd, dumps

    model = _plain(Driver("langchain", "sync", "invoke", api), ks)  # type: ignore[arg-type]
    try:
        client = model.client
        views: dict[str, Any] = {
            "repr(model)": repr(model),
            "str(model)": str(model),
            "model_dump": model.model_dump(),
            "model_dump_json": model.model_dump_json(),
            "dumpd": dumpd(model),
            "dumps": dumps(model),
            "dumps(pretty)": dumps(model, pretty=True),
            "to_json": model.to_json(),
            "_identifying_params": model._identifying_params,
            "_get_ls_params": model._get_ls_params(),
            "_get_invocation_params": model._get_invocation_params(),
            "repr(client)": repr(client),
            "repr(config)": repr(client.config),
            "str(config)": str(client.config),
            "repr(transport)": repr(client.transport),
        }
        for where, value in views.items():
            assert_no_key(where, value)
        # The secret is referenced by name, so a loader can restore it from the environment.
        assert "LUNOS_API_KEY" in dumps(model)
    finally:
        model.close()


@pytest.mark.parametrize("api", ["chat_completions", "messages"])
def test_llama_index_model_repr_and_serialisation(api: str, ks: LocalLunosServer) -> None:
    model = _plain(Driver("llama_index", "sync", "invoke", api), ks)  # type: ignore[arg-type]
    try:
        client = model.client
        views: dict[str, Any] = {
            "repr(model)": repr(model),
            "str(model)": str(model),
            "to_dict": model.to_dict(),
            "to_json": model.to_json(),
            "model_dump": model.model_dump(),
            "model_dump_json": model.model_dump_json(),
            "to_payload": model.to_payload(),
            "metadata": model.metadata,
            "repr(client)": repr(client),
            "repr(config)": repr(client.config),
            "repr(transport)": repr(client.transport),
        }
        for where, value in views.items():
            assert_no_key(where, value)
    finally:
        model.close()


# ---------------------------------------------------------------------------- exceptions


def _fault(kind: str, driver: Driver) -> Any:
    if kind == "401":
        return ErrorReply(401)
    if kind == "429":
        return ErrorReply(429, headers={"retry-after-ms": "5"})
    if kind == "500":
        return ErrorReply(500)
    if kind == "html":
        return RawReply(200, b"<html>oops</html>", "text/html")
    if kind == "reset":
        return Disconnect("after_headers", reset=True)
    if kind == "truncated":
        if driver.is_stream:
            return StreamFault(truncate_before_terminator=True)
        return Disconnect("after_headers", reset=False)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["401", "429", "500", "html", "reset", "truncated"])
@pytest.mark.parametrize("driver", ALL)
async def test_exceptions_never_carry_the_key(
    driver: Driver, kind: str, ks: LocalLunosServer
) -> None:
    ks.enqueue(_fault(kind, driver), path=driver.path)
    model = _plain(driver, ks)
    try:
        out, _ = await driver.timed(model, PROMPT)
    finally:
        await model.aclose()
    assert isinstance(out, LunosError), repr(out)
    for where, text in exception_texts(out).items():
        assert_no_key(where, text)


async def test_wrong_key_error_does_not_echo_the_key() -> None:
    """The server rejects the key: the 401 error must not quote the key back."""
    async with LocalLunosServer(api_key="sk-lunos-the-right-one") as server:
        driver = Driver("langchain", "async", "invoke", "chat_completions")
        model = _plain(driver, server)
        try:
            out, _ = await driver.timed(model, PROMPT)
        finally:
            await model.aclose()
    assert isinstance(out, LunosError) and "401" in str(out), repr(out)
    for where, text in exception_texts(out).items():
        assert_no_key(where, text)


def test_connection_refused_error_does_not_carry_the_key() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from lunos_integrations.llama_index import LunosLLM

    llm = LunosLLM(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
    try:
        with pytest.raises(LunosError) as info:
            llm.complete(PROMPT)
    finally:
        llm.close()
    for where, text in exception_texts(info.value).items():
        assert_no_key(where, text)


# ---------------------------------------------------------------------------- logs


@pytest.mark.parametrize("driver", ALL)
async def test_debug_logs_never_carry_the_key(
    driver: Driver, ks: LocalLunosServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # root: httpx, httpcore, lunos_integrations, frameworks
    for name in ("httpx", "httpcore", "lunos_integrations", "langchain_core", "llama_index"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    ks.enqueue(ErrorReply(503), path=driver.path)  # a retry, so retry logging runs too
    model = _plain(driver, ks, max_retries=1)
    try:
        out = await driver.ask(model, PROMPT)
    finally:
        await model.aclose()
    assert out.text == answer_for(PROMPT)
    assert caplog.records, "nothing was logged at DEBUG: the check would be vacuous"
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    assert_no_key("DEBUG log text", caplog.text)
    for record in caplog.records:
        assert_no_key(f"log record {record.name}", record.getMessage())
        assert_no_key(f"log record {record.name} args", repr(record.args))


# ---------------------------------------------------------------------------- callbacks


class _Recorder:
    """Keeps ``repr`` of every callback argument (LangChain) or event (LlamaIndex)."""

    def __init__(self) -> None:
        self.payloads: list[str] = []

    def record(self, *args: Any, **kwargs: Any) -> None:
        self.payloads.append(repr(args) + repr(kwargs))


def _langchain_handlers(recorder: _Recorder) -> list[Any]:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

    class Everything(BaseCallbackHandler):
        raise_error = True

        def __getattribute__(self, name: str) -> Any:
            if name.startswith("on_"):
                return recorder.record
            return super().__getattribute__(name)

    return [Everything(), RunCollectorCallbackHandler()]


@pytest.mark.parametrize("driver", [p for p in ALL if "langchain" in p.id])
async def test_langchain_callbacks_and_traces_never_carry_the_key(
    driver: Driver, ks: LocalLunosServer
) -> None:
    recorder = _Recorder()
    handlers = _langchain_handlers(recorder)
    model = _plain(driver, ks)
    try:
        out = await driver.ask(model, PROMPT, config={"callbacks": handlers})
        ks.enqueue(ErrorReply(500), path=driver.path)
        failed, _ = await driver.timed(model, PROMPT, config={"callbacks": handlers})
    finally:
        await model.aclose()
    assert out.text == answer_for(PROMPT)
    assert isinstance(failed, LunosError)
    runs = handlers[1].traced_runs
    assert recorder.payloads and runs, "no callbacks fired: the check would be vacuous"
    for payload in recorder.payloads:
        assert_no_key("a LangChain callback payload", payload)
    for run in runs:
        assert_no_key("a LangChain traced run", run.model_dump_json())


@pytest.mark.parametrize("driver", [p for p in ALL if "llama_index" in p.id])
async def test_llama_index_events_never_carry_the_key(driver: Driver, ks: LocalLunosServer) -> None:
    from llama_index.core.callbacks import CallbackManager, LlamaDebugHandler
    from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    recorder = _Recorder()

    class Everything(BaseEventHandler):
        @classmethod
        def class_name(cls) -> str:
            return "Everything"

        def handle(self, event: Any, **kwargs: Any) -> None:
            recorder.record(event, event.model_dump(), **kwargs)

    dispatcher = get_dispatcher()
    handler = Everything()
    dispatcher.add_event_handler(handler)
    debug = LlamaDebugHandler()
    model = _plain(driver, ks)
    model.callback_manager = CallbackManager([debug])
    try:
        out = await driver.ask(model, PROMPT)
        ks.enqueue(ErrorReply(500), path=driver.path)
        failed, _ = await driver.timed(model, PROMPT)
    finally:
        dispatcher.event_handlers.remove(handler)
        await model.aclose()
    assert out.text == answer_for(PROMPT)
    assert isinstance(failed, LunosError)
    assert recorder.payloads, "no instrumentation events: the check would be vacuous"
    for payload in recorder.payloads:
        assert_no_key("a LlamaIndex instrumentation event", payload)
    events = debug.get_events()
    assert events
    for event in events:
        assert_no_key("a LlamaIndex callback event", repr(event.payload))


# ---------------------------------------------------------------------------- redirects


@pytest.fixture(scope="module")
def other_origin() -> Iterator[LocalLunosServer]:
    """A second server (another port, so another origin) that accepts requests without a key."""
    with LocalLunosServer(require_auth=False) as server:
        yield server


@pytest.mark.parametrize("driver", ALL)
async def test_redirect_to_another_origin_is_refused(
    driver: Driver, ks: LocalLunosServer, other_origin: LocalLunosServer
) -> None:
    """Neither the key nor the prompt may reach another origin: the redirect is refused."""
    other_origin.reset()
    target = other_origin.base_url + driver.path.removeprefix("/v1")
    ks.enqueue(ErrorReply(307, body={}, headers={"Location": target}), path=driver.path)
    model = _plain(driver, ks)
    try:
        out, _ = await driver.timed(model, PROMPT)
    finally:
        await model.aclose()
    assert isinstance(out, APIConnectionError), f"redirect not refused: {out!r}"
    assert "another origin" in str(out) and "base_url" in str(out)
    assert_no_key("redirect error", str(out))
    assert [r for r in other_origin.requests if r.path == driver.path] == []
    first = next(r for r in ks.requests if r.path == driver.path)
    assert first.headers.get("authorization") == f"Bearer {KEY}"
