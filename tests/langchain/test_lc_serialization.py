"""``dumpd`` / ``load`` of ChatLunos and LunosEmbeddings, with the README's exact call.

The recipe (README, "Behaviour worth knowing"):
``load(dumpd(obj), allowed_objects=[ChatLunos, LunosEmbeddings],
valid_namespaces=["lunos_integrations"])`` and the key taken from ``LUNOS_API_KEY``.

Every path runs with a key that contains a marker, and every output is searched for it:
the serialized form, the rebuilt object, and each error with its message, repr, args,
causes, traceback and the log. langchain-core prints the whole serialized object when it
refuses one ("Invalid namespace: {...}"), so the serialized form must hold only a reference
to the key, and the recipe must not hand the key to ``load``.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.load import dumpd, dumps, load, loads

from lunos_integrations import ChatLunos, LunosEmbeddings
from lunos_integrations.errors import LunosConfigError
from lunos_integrations.testing import LocalLunosServer

MARKER = "sk-SERDES-MARKER-5f0c2a"
RECIPE: dict[str, Any] = {
    "allowed_objects": [ChatLunos, LunosEmbeddings],
    "valid_namespaces": ["lunos_integrations"],
}
KEY_REFERENCE = {"lc": 1, "type": "secret", "id": ["LUNOS_API_KEY"]}

# load() is a beta API of langchain-core; its warning is not what these tests check.
pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)


@pytest.fixture(scope="module")
def marked_server() -> Iterator[LocalLunosServer]:
    with LocalLunosServer(api_key=MARKER) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _environment(marked_server: LocalLunosServer, monkeypatch: pytest.MonkeyPatch) -> None:
    marked_server.reset()
    monkeypatch.setenv("LUNOS_API_KEY", MARKER)
    monkeypatch.setenv("LUNOS_BASE_URL", marked_server.base_url)


def _models() -> list[ChatLunos | LunosEmbeddings]:
    return [
        ChatLunos(model="openai/gpt-4o", app_id="serdes-app", temperature=0.2),
        ChatLunos(model="anthropic/claude-sonnet-4", api="messages", api_key=MARKER),
        LunosEmbeddings(model="openai/text-embedding-3-small", dimensions=256),
        LunosEmbeddings(api_key=MARKER, app_id="serdes-app"),
    ]


MODEL_IDS = ["chat-env-key", "messages-explicit-key", "embeddings-env-key", "embeddings-key"]


def _texts_of(exc: BaseException) -> Iterator[str]:
    """Every text an error shows: message, repr, args, and the same for its whole chain."""
    yield "".join(traceback.format_exception(exc))
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        current = current.__cause__ or current.__context__


def _assert_fails_without_marker(
    action: Callable[[], Any], expected: type[BaseException], caplog: pytest.LogCaptureFixture
) -> BaseException:
    with caplog.at_level(logging.DEBUG), pytest.raises(expected) as info:
        action()
    for text in _texts_of(info.value):
        assert MARKER not in text
    assert MARKER not in caplog.text
    return info.value


@pytest.mark.parametrize("index", range(4), ids=MODEL_IDS)
def test_serialized_form_holds_a_reference_not_the_key(index: int) -> None:
    model = _models()[index]
    data = dumpd(model)
    assert data["kwargs"]["api_key"] == KEY_REFERENCE
    for text in (json.dumps(data), dumps(model), dumps(model, pretty=True), repr(model)):
        assert MARKER not in text
    # base_url is resolved at construction and written out (#13.6).
    assert data["kwargs"]["base_url"] == model.base_url


@pytest.mark.parametrize("index", range(4), ids=MODEL_IDS)
def test_readme_recipe_round_trips(index: int, marked_server: LocalLunosServer) -> None:
    model = _models()[index]
    restored = load(dumpd(model), **RECIPE)
    assert type(restored) is type(model)
    assert restored is not model
    # Same settings, key included (read back from LUNOS_API_KEY).
    assert restored.model_dump() == model.model_dump()
    assert restored.api_key is not None
    assert restored.api_key.get_secret_value() == MARKER
    assert dumpd(restored) == dumpd(model)
    assert MARKER not in repr(restored)
    # And it works against the server it names.
    if isinstance(restored, ChatLunos):
        assert restored.invoke("hi").content
        # The last POST: the catalog may be fetched in the background after the reply.
        posts = [r for r in marked_server.requests if r.method == "POST"]
        assert posts[-1].path.endswith(
            "/messages" if model.api == "messages" else "/chat/completions"
        )
    else:
        assert len(restored.embed_query("hi")) == (model.dimensions or 1536)


def test_loads_of_dumps_round_trips_too() -> None:
    model = ChatLunos(model="openai/gpt-4o", app_id="serdes-app")
    restored = loads(dumps(model), **RECIPE)
    assert isinstance(restored, ChatLunos)
    assert restored.model_dump() == model.model_dump()


def test_allowed_objects_all_with_the_namespace_works_for_chat_models() -> None:
    # What langchain-tests' test_serdes does; ChatLunos is registered for "all".
    model = ChatLunos(model="openai/gpt-4o")
    restored = load(dumpd(model), allowed_objects="all", valid_namespaces=["lunos_integrations"])
    assert restored.model_dump() == model.model_dump()


@pytest.mark.parametrize("index", range(4), ids=MODEL_IDS)
@pytest.mark.parametrize(
    "namespaces",
    [None, ["lunos"], ["langchain_lunos"]],
    ids=["namespace-omitted", "namespace-misspelt", "namespace-wrong"],
)
def test_wrong_namespace_error_never_shows_the_key(
    index: int, namespaces: list[str] | None, caplog: pytest.LogCaptureFixture
) -> None:
    data = dumpd(_models()[index])
    error = _assert_fails_without_marker(
        lambda: load(
            data, allowed_objects=[ChatLunos, LunosEmbeddings], valid_namespaces=namespaces
        ),
        ValueError,
        caplog,
    )
    assert "Invalid namespace" in str(error)  # langchain's own message, object printed


@pytest.mark.parametrize("index", range(4), ids=MODEL_IDS)
@pytest.mark.parametrize("allowed", ["core", "messages", []], ids=["core", "messages", "none"])
def test_class_not_allowed_error_never_shows_the_key(
    index: int, allowed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    data = dumpd(_models()[index])
    error = _assert_fails_without_marker(
        lambda: load(data, allowed_objects=allowed, valid_namespaces=["lunos_integrations"]),
        ValueError,
        caplog,
    )
    assert "is not allowed" in str(error)


def test_missing_secret_chat_model_loads_and_first_call_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model = ChatLunos(model="openai/gpt-4o", api_key=MARKER)
    data = dumpd(model)
    monkeypatch.delenv("LUNOS_API_KEY")
    restored = load(data, **RECIPE)  # built without a key, like ChatLunos(model=...)
    assert restored.api_key is None
    error = _assert_fails_without_marker(lambda: restored.invoke("hi"), ValueError, caplog)
    assert "LUNOS_API_KEY" in str(error)


def test_missing_secret_embeddings_fail_at_load_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data = dumpd(LunosEmbeddings(api_key=MARKER))
    monkeypatch.delenv("LUNOS_API_KEY")
    error = _assert_fails_without_marker(lambda: load(data, **RECIPE), LunosConfigError, caplog)
    assert "LUNOS_API_KEY" in str(error)


def test_a_different_key_in_the_loading_environment_is_the_one_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The serialized form names the variable, not the value: the loader's key wins.
    data = dumpd(ChatLunos(model="openai/gpt-4o", api_key=MARKER))
    monkeypatch.setenv("LUNOS_API_KEY", "sk-another-key")
    restored = load(data, **RECIPE)
    assert restored.api_key.get_secret_value() == "sk-another-key"


def test_readme_warning_about_handing_the_key_to_load_is_accurate() -> None:
    # The README says not to pass the key through secrets_map / secrets_from_env, because
    # langchain-core substitutes it before checking the class and prints the object when
    # the check fails. If langchain-core stops doing that, this test says so.
    data = dumpd(ChatLunos(model="openai/gpt-4o"))
    with pytest.raises(ValueError, match="Invalid namespace") as info:
        load(data, allowed_objects=[ChatLunos], secrets_map={"LUNOS_API_KEY": MARKER})
    assert MARKER in str(info.value)
