"""Keys that cannot go into a header, and credentials written into ``base_url``.

Contract:

* a key with surrounding whitespace (a trailing newline read from a file) works, with the
  whitespace stripped and never echoed;
* a key with a control or non-ASCII character left inside is a ``LunosInputError`` naming
  ``api_key`` and the position, from every constructor, before any request, and none of
  its printed forms holds the key (it used to reach h11, whose error quoted the header);
* ``http://user:pass@host/v1`` is shown as ``http://user:***@host/v1`` in every repr,
  dump, tracing field, log line and error, and requests still carry what httpx itself
  derives from those credentials.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import httpx
import pytest
from reliability_harness import ALL, Driver, answer_for
from secret_sweep import SWEEP, SWEEP_KEY, exception_texts

from lunos_integrations.client import LunosClient
from lunos_integrations.errors import APIConnectionError, LunosConfigError, LunosInputError
from lunos_integrations.testing import ErrorReply, LocalLunosServer

PROMPT = "credentials check"
PASSWORD = "pw-PASSMARK4e8d21c07b"
FRAGMENT = PASSWORD[3:]


def _no_password(where: str, value: Any) -> None:
    text = value if isinstance(value, str) else repr(value)
    assert FRAGMENT not in text, f"the base_url password leaked into {where}: {text[:300]}"


def _constructors() -> dict[str, Any]:
    from lunos_integrations.langchain import ChatLunos, LunosEmbeddings
    from lunos_integrations.llama_index import LunosEmbedding, LunosLLM

    return {
        "ChatLunos": lambda **kw: ChatLunos(model="openai/gpt-4o", **kw),
        "LunosLLM": lambda **kw: LunosLLM(model="openai/gpt-4o", **kw),
        "LunosEmbeddings": lambda **kw: LunosEmbeddings(**kw),
        "LunosEmbedding": lambda **kw: LunosEmbedding(**kw),
        "LunosClient": lambda **kw: LunosClient(**kw),
    }


CONSTRUCTORS = ["ChatLunos", "LunosLLM", "LunosEmbeddings", "LunosEmbedding", "LunosClient"]

# ---------------------------------------------------------------------------- the key

#: (key as given, 1-based position of the bad character, what the message calls it)
BAD_KEYS = {
    "en_dash": (SWEEP_KEY[:12] + "\u2013" + SWEEP_KEY[12:], 13, "non-ASCII"),
    "inner_newline": (SWEEP_KEY[:20] + "\n" + SWEEP_KEY[20:], 21, "control"),
    "nul": (SWEEP_KEY + "\x00", len(SWEEP_KEY) + 1, "control"),
    "tab_inside": ("  " + SWEEP_KEY[:5] + "\t" + SWEEP_KEY[5:] + "\n", 6, "control"),
    "non_breaking_space": (SWEEP_KEY[:9] + "\u00a0" + SWEEP_KEY[9:], 10, "non-ASCII"),
}


@pytest.mark.parametrize("case", list(BAD_KEYS))
@pytest.mark.parametrize("ctor", CONSTRUCTORS)
def test_a_key_no_header_can_carry_is_refused_by_position(
    ctor: str, case: str, srv: LocalLunosServer
) -> None:
    key, position, kind = BAD_KEYS[case]
    with pytest.raises(LunosInputError) as info:
        _constructors()[ctor](api_key=key, base_url=srv.base_url)
    error = info.value
    assert error.param == "api_key"
    assert f"position {position} of" in str(error) and kind in str(error), str(error)
    assert "copy the key again" in str(error)
    SWEEP.check_exception(error, f"{ctor} {case}")
    assert [r for r in srv.requests] == [], "nothing may be sent with a bad key"


@pytest.mark.parametrize("case", ["en_dash", "inner_newline"])
def test_a_bad_key_from_the_environment_is_refused_too(
    case: str, monkeypatch: pytest.MonkeyPatch, srv: LocalLunosServer
) -> None:
    monkeypatch.setenv("LUNOS_API_KEY", BAD_KEYS[case][0])
    for ctor in CONSTRUCTORS:
        with pytest.raises(LunosInputError) as info:
            _constructors()[ctor](base_url=srv.base_url)
        assert info.value.param == "api_key"
        SWEEP.check_exception(info.value, f"{ctor} env {case}")


@pytest.mark.parametrize("driver", ALL)
async def test_a_key_with_surrounding_whitespace_works(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    """The usual result of ``open("key.txt").read()``: a trailing newline (or CRLF)."""
    model = make(driver, api_key=f"  {srv.api_key}\r\n")
    out = await driver.ask(model, PROMPT)
    assert out.text == answer_for(PROMPT)
    sent = [r for r in srv.requests if r.path == driver.path]
    assert sent and sent[0].headers["authorization"] == f"Bearer {srv.api_key}"


def test_embeddings_with_a_trailing_newline_key_work(srv: LocalLunosServer) -> None:
    from lunos_integrations.langchain import LunosEmbeddings
    from lunos_integrations.llama_index import LunosEmbedding

    lc = LunosEmbeddings(api_key=srv.api_key + "\n", base_url=srv.base_url)
    li = LunosEmbedding(api_key=srv.api_key + "\n", base_url=srv.base_url)
    try:
        assert len(lc.embed_query("hello")) > 0
        assert len(li.get_text_embedding("hello")) > 0
    finally:
        lc.client.close()
        li.client.close()


def test_chat_lunos_validation_errors_never_print_the_key() -> None:
    """pydantic prints failing inputs; a model-level error's input is every argument."""
    from pydantic import ValidationError

    from lunos_integrations.langchain import ChatLunos

    key = SWEEP_KEY
    cases: list[dict[str, Any]] = [
        {"model_kwargs": {"temperature": 1}},  # our model validator: a LunosInputError
        {"base_url": "ftp://nowhere/v1"},  # our model validator: a LunosConfigError
        {"temperature": "hot"},  # a field error
    ]
    for extra in cases:
        with pytest.raises((LunosInputError, LunosConfigError, ValidationError)) as info:
            ChatLunos(model="x", api_key=key, **extra)
        SWEEP.check_exception(info.value, f"ChatLunos {extra}")
        if isinstance(info.value, ValidationError):
            assert not SWEEP.find({"errors()": repr(info.value.errors())})
    with pytest.raises(ValidationError) as bad_type:
        ChatLunos(model="x", api_key=12345678901234567890)
    assert "12345678901234567890" not in str(bad_type.value)
    assert "api_key" in str(bad_type.value)


# ---------------------------------------------------------------------------- base_url


def _with_credentials(url: str, user: str = "alice") -> str:
    return url.replace("http://", f"http://{user}:{PASSWORD}@", 1)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def open_server() -> Any:
    """A server that accepts any Authorization (URL credentials replace the bearer key)."""
    with LocalLunosServer(require_auth=False) as server:
        yield server


def test_requests_carry_what_httpx_derives_from_url_credentials(open_server: Any) -> None:
    """The same Authorization header as a plain ``httpx.Client`` sends for that URL.

    Before this change the credentials stayed in the URL and httpx turned them into Basic
    auth (replacing the bearer key); now they leave the URL (so httpx's logs and errors do
    not show them) and the transport sends that same header itself.
    """
    url = _with_credentials(open_server.base_url)
    with httpx.Client() as plain:
        plain.get(url + "/models")
    expected = open_server.requests[-1].headers["authorization"]
    assert expected.startswith("Basic ")
    open_server.reset()
    client = LunosClient(api_key=SWEEP_KEY, base_url=url, max_retries=0)
    try:
        assert client.transport.request("GET", "/models").status_code == 200
    finally:
        client.close()
    sent = open_server.requests[-1]
    assert sent.headers["authorization"] == expected
    assert sent.path == "/v1/models"


def _views(model: Any) -> dict[str, Any]:
    client = model.client
    views: dict[str, Any] = {
        "repr(model)": repr(model),
        "str(model)": str(model),
        "model_dump": model.model_dump(),
        "model_dump_json": model.model_dump_json(),
        "repr(client)": repr(client),
        "repr(config)": repr(client.config),
        "repr(transport)": repr(client.transport),
        "transport.url": client.transport.url("/x"),
    }
    if hasattr(model, "_identifying_params"):
        from langchain_core.load import dumpd, dumps

        views.update(
            {
                "_identifying_params": model._identifying_params,
                "_get_invocation_params": model._get_invocation_params(),
                "dumpd": dumpd(model),
                "dumps": dumps(model),
            }
        )
    if hasattr(model, "to_dict"):
        views.update({"to_dict": model.to_dict(), "to_json": model.to_json()})
    if hasattr(model, "to_payload"):
        views["to_payload"] = model.to_payload()
    return views


@pytest.mark.parametrize("ctor", ["ChatLunos", "LunosLLM", "LunosEmbeddings", "LunosEmbedding"])
def test_url_credentials_are_masked_in_every_view(ctor: str, open_server: Any) -> None:
    url = _with_credentials(open_server.base_url)
    model = _constructors()[ctor](api_key=SWEEP_KEY, base_url=url, max_retries=0)
    try:
        views = _views(model)
        for where, value in views.items():
            _no_password(where, value)
        assert "alice:***@" in views["repr(model)"] and "alice:***@" in views["repr(transport)"]
    finally:
        model.client.close()


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_chat_lunos_dumpd_references_the_credentialed_url_as_a_secret(
    open_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like the key: ``dumpd`` names LUNOS_BASE_URL, and ``load`` restores it from there."""
    from langchain_core.load import dumpd, load

    from lunos_integrations.langchain import ChatLunos

    url = _with_credentials(open_server.base_url)
    model = ChatLunos(model="openai/gpt-4o", api_key=SWEEP_KEY, base_url=url)
    data = dumpd(model)
    assert data["kwargs"]["base_url"] == {"lc": 1, "type": "secret", "id": ["LUNOS_BASE_URL"]}
    monkeypatch.setenv("LUNOS_API_KEY", SWEEP_KEY)
    monkeypatch.setenv("LUNOS_BASE_URL", url)
    loaded = load(
        data,
        valid_namespaces=["lunos_integrations"],
        allowed_objects="all",
        secrets_from_env=True,
    )
    assert loaded.base_url == url
    assert loaded.invoke(PROMPT).text == answer_for(PROMPT)
    loaded.close()


def test_a_masked_password_is_refused_not_sent() -> None:
    """What reprs and dumps show cannot be used by mistake as the real URL."""
    for ctor in CONSTRUCTORS:
        with pytest.raises(LunosConfigError, match="masked password"):
            _constructors()[ctor](api_key=SWEEP_KEY, base_url="http://alice:***@127.0.0.1:9/v1")


@pytest.mark.parametrize("driver", ALL)
async def test_errors_and_logs_show_url_credentials_masked(
    driver: Driver, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = _with_credentials(f"http://127.0.0.1:{_closed_port()}/v1")
    model = make(driver, base_url=url, max_retries=0)
    out, _ = await driver.timed(model, PROMPT)
    assert isinstance(out, APIConnectionError), repr(out)
    assert "alice:***@127.0.0.1" in str(out), str(out)
    for where, text in exception_texts(out).items():
        _no_password(where, text)
    _no_password("url attribute", getattr(out, "url", ""))
    assert caplog.records
    for record in caplog.records:
        _no_password(f"log {record.name}", record.getMessage())


@pytest.mark.parametrize("driver", ALL)
async def test_a_refused_redirect_does_not_show_url_credentials(
    driver: Driver, make: Any, open_server: Any
) -> None:
    open_server.enqueue(
        ErrorReply(307, body={}, headers={"Location": "http://other.invalid/v1/x"}),
        path=driver.path,
    )
    model = make(driver, base_url=_with_credentials(open_server.base_url), max_retries=0)
    out, _ = await driver.timed(model, PROMPT)
    assert isinstance(out, APIConnectionError) and "another origin" in str(out), repr(out)
    for where, text in exception_texts(out).items():
        _no_password(where, text)


def test_catalog_warning_shows_url_credentials_masked(open_server: Any) -> None:
    import warnings

    from lunos_integrations.catalog import lookup_model

    url = _with_credentials(f"http://127.0.0.1:{_closed_port()}/v1")
    client = LunosClient(api_key=SWEEP_KEY, base_url=url, max_retries=0)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lookup_model(client, "openai/gpt-4o")
    finally:
        client.close()
    texts = [str(w.message) for w in caught]
    assert any("alice:***@" in t for t in texts), texts
    for text in texts:
        _no_password("catalog warning", text)
        assert not SWEEP.find({"catalog warning": text})


def test_logging_of_a_credentialed_call_never_shows_the_password(
    open_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = _with_credentials(open_server.base_url)
    client = LunosClient(api_key=SWEEP_KEY, base_url=url)
    try:
        client.transport.request("GET", "/models")
    finally:
        client.close()
    httpx_lines = [r.getMessage() for r in caplog.records if r.name in ("httpx", "httpx2")]
    assert any("HTTP Request: GET" in line for line in httpx_lines), httpx_lines
    for record in caplog.records:
        _no_password(f"log {record.name}", record.getMessage())


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
@pytest.mark.parametrize(
    ("secret", "extra"),
    [
        (SWEEP_KEY[:12] + "\u2013" + SWEEP_KEY[12:], {}),  # a bad key in secrets_map
        (SWEEP_KEY, {"timeout": -1}),  # our own validation fails during load
        (SWEEP_KEY, {"unknown_field": 1}),  # pydantic's fails during load
    ],
    ids=["bad_key", "bad_timeout", "unknown_field"],
)
def test_load_failures_never_print_the_key(secret: str, extra: dict[str, Any]) -> None:
    """``load`` with ``secrets_map`` puts the key into the constructor's arguments: a failing
    constructor must not print them. (Called with ``valid_namespaces``, which core needs for
    a partner namespace; without it core's own "Invalid namespace" error prints the revived
    arguments, key included, which only a working recipe avoids.)"""
    from langchain_core.load import dumpd, load

    from lunos_integrations.langchain import ChatLunos

    data = dumpd(ChatLunos(model="openai/gpt-4o", api_key=SWEEP_KEY))
    data["kwargs"].update(extra)
    with pytest.raises(ValueError) as info:
        load(
            data,
            secrets_map={"LUNOS_API_KEY": secret},
            valid_namespaces=["lunos_integrations"],
            allowed_objects="all",
        )
    SWEEP.check_exception(info.value, f"load {extra}")
