"""The four models pickle into working copies that carry the key once, as a SecretStr.

Why: Dask, Ray, ``IngestionPipeline(num_workers=...)`` and ``multiprocessing`` ship models to
workers by pickling. A copy must answer like the original (same key, same gateway, even in
a worker whose environment has no ``LUNOS_*`` variables), must not carry this process's
client (a pool lease and a ready-made ``Authorization`` header), and the pickle must not
contain the key anywhere but inside the SecretStr.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_index.core.llms import ChatMessage
from pydantic import SecretStr

from lunos_integrations.langchain import ChatLunos, LunosEmbeddings
from lunos_integrations.llama_index import LunosEmbedding, LunosLLM
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.transport.pools import POOLS
from lunos_integrations.usage import UsageTracker, track_usage

ROOT = Path(__file__).resolve().parents[2]
CHAT = "openai/gpt-4o"
EMBED = "openai/text-embedding-3-small"

pytestmark = pytest.mark.timeout(60)


def _build(kind: str, **kw: Any) -> Any:
    if kind == "ChatLunos":
        return ChatLunos(model=CHAT, **kw)
    if kind == "LunosLLM":
        return LunosLLM(model=CHAT, **kw)
    if kind == "LunosEmbeddings":
        return LunosEmbeddings(model=EMBED, **kw)
    return LunosEmbedding(model_name=EMBED, **kw)


KINDS = ("ChatLunos", "LunosLLM", "LunosEmbeddings", "LunosEmbedding")


def _use(model: Any, prompt: str) -> str:
    """One call; a text answer for chat models, the vector's length for embedders."""
    if isinstance(model, ChatLunos):
        return str(model.invoke(prompt).content)
    if isinstance(model, LunosLLM):
        return str(model.chat([ChatMessage(role="user", content=prompt)]).message.content)
    if isinstance(model, LunosEmbeddings):
        return str(len(model.embed_query(prompt)))
    return str(len(model.get_text_embedding(prompt)))


@pytest.mark.parametrize("kind", KINDS)
def test_copy_works_and_carries_the_key_once(kind: str, lunos_server: LocalLunosServer) -> None:
    model = _build(kind, api_key=lunos_server.api_key, base_url=lunos_server.base_url)
    first = _use(model, "before pickling")  # the original has a client (and a lease) now
    data = pickle.dumps(model)
    assert data.count(lunos_server.api_key.encode()) == 1  # only inside the SecretStr
    assert b"Bearer" not in data  # no transport headers
    copy = pickle.loads(data)
    assert type(copy) is type(model)
    assert isinstance(copy.api_key, SecretStr)
    assert copy.api_key.get_secret_value() == lunos_server.api_key
    assert lunos_server.api_key not in repr(copy)
    assert copy.client is not model.client
    answer = _use(copy, "after pickling")
    if kind in ("ChatLunos", "LunosLLM"):
        assert first.endswith("before pickling") and answer.endswith("after pickling")
    else:
        assert answer == first == "1536"
    auth = {r.headers.get("authorization") for r in lunos_server.requests}
    assert auth == {f"Bearer {lunos_server.api_key}"}


@pytest.mark.parametrize("kind", KINDS)
def test_copy_and_original_hold_their_own_leases(kind: str, lunos_server: LocalLunosServer) -> None:
    """Closing the copy must not close the original's pools (a pickled lease was a bug)."""
    leases = POOLS.stats()["leases"]
    model = _build(kind, api_key=lunos_server.api_key, base_url=lunos_server.base_url)
    model.client  # noqa: B018 - builds the client, which leases the pool
    copy = pickle.loads(pickle.dumps(model))
    copy.client  # noqa: B018
    assert POOLS.stats()["leases"] == leases + 2
    copy.close() if hasattr(copy, "close") else copy.client.close()
    assert POOLS.stats()["leases"] == leases + 1
    assert _use(model, "still here")
    model.close() if hasattr(model, "close") else model.client.close()
    assert POOLS.stats()["leases"] == leases


_CHILD = """
import base64, json, os, pickle, sys
assert not any(k.startswith("LUNOS_") for k in os.environ), "the worker must have no LUNOS_ env"
models = pickle.loads(base64.b64decode(sys.stdin.read()))
from tests.process.test_pickling_models import _use
answers = {kind: str(_use(model, "from a fresh process " + kind)) for kind, model in models}
print(json.dumps(answers))
"""


def test_copies_made_from_the_environment_work_where_it_is_unset(
    lunos_server: LocalLunosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Key, base URL and app id read from ``LUNOS_*`` are pinned into the pickle.

    Every kind of model in one fresh process (one interpreter start and one import of
    both frameworks instead of four); each is used there and checked on its own.
    """
    monkeypatch.setenv("LUNOS_API_KEY", lunos_server.api_key)
    monkeypatch.setenv("LUNOS_BASE_URL", lunos_server.base_url)
    monkeypatch.setenv("LUNOS_APP_ID", "pickled-app")
    models = [(kind, _build(kind)) for kind in KINDS]
    payload = base64.b64encode(pickle.dumps(models)).decode()
    env = {k: v for k, v in _clean_env().items() if not k.startswith("LUNOS_")}
    result = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=payload,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    outs = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(outs) == sorted(KINDS)
    for kind, out in outs.items():
        if kind in ("ChatLunos", "LunosLLM"):
            assert out.endswith("from a fresh process " + kind), (kind, out)
        else:
            assert out, kind
    posts = [r for r in lunos_server.requests if r.method == "POST"]
    assert len(posts) == len(KINDS)  # each model made its own call, with what was pinned
    for request in posts:
        assert request.headers["authorization"] == f"Bearer {lunos_server.api_key}"
        assert request.headers["x-app-id"] == "pickled-app"


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.parametrize("kind", ["ChatLunos", "LunosLLM"])
def test_models_with_injected_http_clients_refuse_clearly(kind: str) -> None:
    with httpx.Client() as client:
        model = _build(kind, api_key="sk-x", base_url="http://127.0.0.1:9/v1", http_client=client)
        with pytest.raises(pickle.PicklingError, match="http_client"):
            pickle.dumps(model)


def test_a_chat_model_without_a_key_yet_still_pickles(monkeypatch: pytest.MonkeyPatch) -> None:
    """ChatLunos may be built before the key is configured; so may its pickle."""
    monkeypatch.delenv("LUNOS_API_KEY", raising=False)
    copy = pickle.loads(pickle.dumps(_build("ChatLunos")))
    assert copy.api_key is None
    monkeypatch.setenv("LUNOS_API_KEY", "sk-set-later")
    assert copy.client.config.api_key.get_secret_value() == "sk-set-later"


def test_usage_tracker_pickles_with_its_totals() -> None:
    with track_usage() as usage:
        pass
    usage.requests = 3
    usage.by_model["m"] = UsageTracker(requests=3)
    copy = pickle.loads(pickle.dumps(usage))
    assert copy.requests == 3 and copy.by_model["m"].requests == 3
    assert not copy._lock.locked()
