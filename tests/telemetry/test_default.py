"""The default telemetry: silent and import-free until OpenTelemetry is configured, then
the same spans from the bare client and every adapter, without any code of ours.

Each case runs in a fresh interpreter, because the global tracer provider can be set only
once per process (and must not leak into other tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lunos_integrations.catalog import shared_catalog
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.wire.types import ChatRequest, Message

from .conftest import Otel

ROOT = Path(__file__).resolve().parents[2]

_PRELUDE = """
import json, sys
from lunos_integrations.testing import LocalLunosServer
server = LocalLunosServer().start()
"""

_GLOBAL = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
"""

_EVERY_ENTRY_POINT = """
from lunos_integrations.client import LunosClient
from lunos_integrations.wire.types import ChatRequest, Message
from lunos_integrations.langchain import ChatLunos, LunosEmbeddings
from lunos_integrations.llama_index import LunosLLM, LunosEmbedding
from llama_index.core.base.llms.types import ChatMessage
kw = dict(api_key=server.api_key, base_url=server.base_url)
with LunosClient(**kw) as client:
    client.chat(ChatRequest(model="openai/gpt-4o", messages=[Message("user", "hi")]))
ChatLunos(model="openai/gpt-4o", **kw).invoke("hi")
LunosLLM(model="openai/gpt-4o", **kw).chat([ChatMessage(role="user", content="hi")])
LunosEmbeddings(model="openai/text-embedding-3-small", **kw).embed_query("hi")
LunosEmbedding(model_name="openai/text-embedding-3-small", **kw).get_text_embedding("hi")
spans = [
    {"name": s.name, "keys": sorted(s.attributes), "kind": s.kind.name}
    for s in exporter.get_finished_spans()
]
print(json.dumps(spans))
"""


def _run(code: str, **env: str) -> Any:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LUNOS_", "OTEL_"))}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.pop("PYTHONPATH", "")]))
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_provider_means_no_import_and_no_header() -> None:
    code = (
        _PRELUDE
        + """
from lunos_integrations.client import LunosClient
from lunos_integrations.wire.types import ChatRequest, Message
with LunosClient(api_key=server.api_key, base_url=server.base_url) as client:
    client.chat(ChatRequest(model="openai/gpt-4o", messages=[Message("user", "hi")]))
    list(client.stream_chat(ChatRequest(model="openai/gpt-4o", messages=[Message("user", "x")])))
imported = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print(json.dumps({"imported": imported, "traceparent": [
    "traceparent" in r.headers for r in server.requests]}))
"""
    )
    out = _run(code)
    assert out == {"imported": [], "traceparent": [False, False]}


def test_api_imported_but_no_provider_stays_silent() -> None:
    code = (
        _PRELUDE
        + """
import opentelemetry.trace, opentelemetry.metrics
from lunos_integrations.client import LunosClient
from lunos_integrations.wire.types import ChatRequest, Message
with LunosClient(api_key=server.api_key, base_url=server.base_url) as client:
    client.chat(ChatRequest(model="openai/gpt-4o", messages=[Message("user", "hi")]))
print(json.dumps({"spans_module": "lunos_integrations.telemetry.spans" in sys.modules,
    "traceparent": "traceparent" in server.requests[-1].headers}))
"""
    )
    assert _run(code) == {"spans_module": False, "traceparent": False}


def test_every_entry_point_emits_the_same_spans_once_configured() -> None:
    spans = _run(_PRELUDE + _GLOBAL + _EVERY_ENTRY_POINT)
    assert [s["name"] for s in spans] == [
        "chat openai/gpt-4o",
        "chat openai/gpt-4o",
        "chat openai/gpt-4o",
        "embeddings openai/text-embedding-3-small",
        "embeddings openai/text-embedding-3-small",
    ]
    assert {s["kind"] for s in spans} == {"CLIENT"}
    bare, langchain, llama = (set(s["keys"]) for s in spans[:3])
    assert langchain == llama  # the same attributes, whoever calls...
    # ...but for the cost: the adapters price from the shared catalog, a bare client
    # prices only when handed a catalog
    assert bare == langchain - {"lunos.usage.cost", "lunos.usage.cost_source"}
    assert {"gen_ai.system", "gen_ai.usage.input_tokens", "lunos.request_id"} <= bare


def test_disabled_by_the_otel_variable() -> None:
    spans = _run(
        _PRELUDE + _GLOBAL + _EVERY_ENTRY_POINT,
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="requests,lunos",
    )
    assert spans == []


def test_an_explicit_telemetry_in_the_context_replaces_the_default() -> None:
    code = (
        _PRELUDE
        + _GLOBAL
        + """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from lunos_integrations.client import LunosClient
from lunos_integrations.observe import watching
from lunos_integrations.telemetry import Telemetry
from lunos_integrations.wire.types import ChatRequest, Message
mine = InMemorySpanExporter()
own = TracerProvider()
own.add_span_processor(SimpleSpanProcessor(mine))
with LunosClient(api_key=server.api_key, base_url=server.base_url) as client:
    with watching(Telemetry(tracer_provider=own)):
        client.chat(ChatRequest(model="openai/gpt-4o", messages=[Message("user", "hi")]))
print(json.dumps([len(exporter.get_finished_spans()), len(mine.get_finished_spans())]))
"""
    )
    assert _run(code) == [0, 1]


def test_catalog_priced_cost_says_so(otel: Otel) -> None:
    with (
        LocalLunosServer(catalog_delay=0.0) as server,
        otel.client(server, catalog=shared_catalog) as client,
    ):
        result = client.chat(ChatRequest(model="openai/gpt-4o", messages=[Message("user", "hi")]))
    chat = next(s for s in otel.spans() if s.name.startswith("chat"))
    assert result.usage is not None and result.usage.cost is not None
    assert chat.attributes["lunos.usage.cost"] == result.usage.cost  # type: ignore[index]
    assert chat.attributes["lunos.usage.cost_source"] == "catalog"  # type: ignore[index]


@pytest.mark.parametrize("value", ["", "http", "gen_ai_latest_experimental,database"])
def test_semconv_mode_parsing(value: str) -> None:
    from lunos_integrations.telemetry.names import semconv_mode

    assert semconv_mode(value) == ("latest" if "gen_ai" in value else "legacy")
