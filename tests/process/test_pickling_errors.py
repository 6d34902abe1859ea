"""Every public exception class round-trips through ``pickle`` with its attributes.

Why: ``multiprocessing``, ``ProcessPoolExecutor``, Celery and Dask send a worker's exception
back to the parent pickled. An error class that cannot be unpickled killed
``multiprocessing.Pool``'s result thread and hung the pool. The classes are found by
walking the modules, not listed by hand, so a class added later is covered (and a class
whose constructor needs an argument this file cannot guess fails loudly, naming it).
"""

from __future__ import annotations

import importlib
import inspect
import pickle
from typing import Any

import pytest

from lunos_integrations.errors import APIStatusError, LunosError, RateLimitError
from lunos_integrations.langchain import ChatLunos
from lunos_integrations.langchain.errors import to_langchain_error
from lunos_integrations.testing import ErrorReply, LocalLunosServer

ERROR_MODULES = (
    "lunos_integrations.errors",
    "lunos_integrations.langchain.errors",
    "lunos_integrations.llama_index.tools",
    "lunos_integrations.llama_index.structured",
)

#: Sample values for constructor parameters, by name; generic enough for new classes.
SAMPLES: dict[str, Any] = {
    "message": "the sample message",
    "status_code": 429,
    "code": "rate_limited",
    "type": "rate_limit_error",
    "param": "temperature",
    "request_id": "req_sample_1",
    "body": {"error": {"message": "the sample message", "code": "rate_limited"}},
    "headers": {"retry-after": "2", "x-request-id": "req_sample_1"},
    "retry_after": 2.5,
    "limit": 1024,
    "url": "http://127.0.0.1:9/v1/chat/completions",
    "body_excerpt": "<html>oops</html>",
    "calls": [{"id": "c1", "name": "f", "arguments": "{", "error": "bad JSON"}],
    "waited": 1.5,
    "reason": "deadline",
    "budget": 2.0,
    "spent": 1.25,
    "reserved": 0.5,
    "worst_case": 0.75,
    "model": "openai/gpt-4o",
    "app_id": "support",
    "partial_text": "the answer so f",
    "cost_so_far": 0.0625,
}


def _public_error_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in ERROR_MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not attr.startswith("_")
            ):
                found[f"{name}.{attr}"] = value
    return [found[k] for k in sorted(found)]


CLASSES = _public_error_classes()


def _make(cls: type[BaseException]) -> BaseException:
    """An instance built the way callers build it: every parameter given a sample value."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    try:
        params = list(inspect.signature(cls).parameters.values())
    except ValueError:  # no Python-level __init__: Exception(*args)
        return cls(SAMPLES["message"])
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name not in SAMPLES:
            if p.default is p.empty:
                pytest.fail(f"{cls.__qualname__}: no sample value for required {p.name!r}")
            continue
        if p.kind is p.POSITIONAL_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and not kwargs):
            args.append(SAMPLES[p.name])
        else:
            kwargs[p.name] = SAMPLES[p.name]
    if issubclass(cls, APIStatusError):  # **kwargs of RateLimitError's __init__ go here
        for name in ("status_code", "code", "type", "param", "request_id", "body", "headers"):
            kwargs.setdefault(name, SAMPLES[name])
    return cls(*args, **kwargs)


def test_the_walk_finds_the_classes() -> None:
    names = {c.__name__ for c in CLASSES}
    assert {"LunosError", "AuthenticationError", "RateLimitError", "APIStatusError"} <= names
    assert {"LunosRateLimitError", "LunosAuthenticationError", "LunosAPIError"} <= names
    assert len(CLASSES) >= 30


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_round_trip_keeps_type_message_and_attributes(cls: type[BaseException]) -> None:
    error = _make(cls)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert str(copy) == str(error)
    assert copy.args == error.args

    # The raw (unscrubbed) body is deliberately not pickled: it may hold an echoed key.
    def state(e: BaseException) -> dict[str, object]:
        return {k: v for k, v in vars(e).items() if k != "_raw_body"}

    assert state(copy) == state(error)
    assert getattr(copy, "raw_body", None) is None
    for name in ("message", "status_code", "request_id", "retry_after", "body", "code"):
        if hasattr(error, name):
            assert getattr(copy, name) == getattr(error, name), name
    if isinstance(error, APIStatusError):
        assert copy.status_code == 429 and copy.request_id == "req_sample_1"
        assert copy.body == SAMPLES["body"]
    if isinstance(error, RateLimitError):
        assert copy.retry_after == 2.5
    # Every protocol multiprocessing and friends may use.
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        assert str(pickle.loads(pickle.dumps(error, protocol))) == str(error)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_round_trip_keeps_notes(cls: type[BaseException]) -> None:
    error = _make(cls)
    error.add_note("while processing job 7")
    assert pickle.loads(pickle.dumps(error)).__notes__ == ["while processing job 7"]


def test_not_pickled_attributes_are_left_out() -> None:
    """Subclasses can keep live objects or secrets out of pickles by naming them."""
    error = _WithLiveObject("boom")
    error.live = object()
    error.kept = 3
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == "boom" and copy.kept == 3
    assert not hasattr(copy, "live")


class _WithLiveObject(LunosError):
    _not_pickled = ("live",)
    live: object
    kept: int


def test_real_errors_round_trip_without_the_key(lunos_server: LocalLunosServer) -> None:
    """Errors raised by real calls (with their ``__cause__`` chain) never carry the key."""
    secret = "sk-lunos-never-in-a-pickle-123"
    model = ChatLunos(
        model="openai/gpt-4o",
        api_key=secret,
        base_url=lunos_server.base_url,
        max_retries=0,
        gate_parameters=False,
    )
    with pytest.raises(LunosError) as auth:
        model.invoke("hello")
    lunos_server.enqueue(ErrorReply(429, headers={"Retry-After": "7"}))
    good = ChatLunos(
        model="openai/gpt-4o",
        api_key=lunos_server.api_key,
        base_url=lunos_server.base_url,
        max_retries=0,
    )
    with pytest.raises(LunosError) as limited:
        good.invoke("hello")
    for caught in (auth.value, limited.value):
        assert isinstance(caught, APIStatusError)
        data = pickle.dumps(caught)
        assert secret.encode() not in data
        copy = pickle.loads(data)
        assert type(copy) is type(caught)
        assert (copy.status_code, copy.request_id, str(copy)) == (
            caught.status_code,
            caught.request_id,
            str(caught),
        )
        assert copy.request_id and copy.request_id.startswith("req_local_")
    assert auth.value.status_code == 401
    assert isinstance(limited.value, RateLimitError)
    copy = pickle.loads(pickle.dumps(limited.value))
    assert copy.retry_after == 7.0
    # The LangChain-typed variant is what ChatLunos raises; the neutral one pickles too.
    assert type(to_langchain_error(copy)) is type(copy)
