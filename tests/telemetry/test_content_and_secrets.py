"""Content capture is opt-in and capped; secrets appear in no span, event or metric.

The sweep walks every attribute of every span, event and metric point recorded while
calls succeed, fail with errors that echo the key, and capture content that quotes it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lunos_integrations import errors as E
from lunos_integrations.catalog import get_balance, list_models
from lunos_integrations.client import LunosClient
from lunos_integrations.telemetry.content import fit
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.scripting import ErrorReply
from lunos_integrations.wire.types import ChatRequest, EmbeddingRequest, Message

from .conftest import MARKER_KEY, Otel

PASSWORD = "proxy-PASSWORD-51d2e8"


def _chat(*messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(model="openai/gpt-4o", messages=list(messages), **kw)


def _everything_recorded(otel: Otel) -> list[str]:
    texts: list[str] = []
    for span in otel.spans():
        texts.append(span.name)
        texts.extend(repr(v) for v in (span.attributes or {}).values())
        texts.append(span.status.description or "")
        for event in span.events:
            texts.append(event.name)
            texts.extend(repr(v) for v in (event.attributes or {}).values())
    for points in otel.metrics().values():
        for point in points:
            texts.extend(repr(v) for v in (point.attributes or {}).values())
    return texts


def test_content_is_off_by_default(otel: Otel, server: LocalLunosServer) -> None:
    with otel.client(server) as client:
        client.chat(_chat(Message("system", "be brief"), Message("user", "secret plan")))
    attrs = dict(otel.span().attributes or {})
    assert not [k for k in attrs if "messages" in k or "instructions" in k]
    assert "secret plan" not in " ".join(_everything_recorded(otel))


def test_content_on_by_env_in_the_latest_shape(
    otel: Otel, server: LocalLunosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    with otel.client(server) as client:
        result = client.chat(_chat(Message("system", "be brief"), Message("user", "hello")))
    attrs = dict(otel.span().attributes or {})
    assert json.loads(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "be brief"}
    ]
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hello"}]}
    ]
    assert json.loads(attrs["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": result.text}],
            "finish_reason": result.finish_reason,
        }
    ]
    assert otel.span().events == ()


def test_streamed_content_and_legacy_events(otel: Otel, server: LocalLunosServer) -> None:
    telemetry = otel.telemetry(capture_content=True, semconv="legacy")
    with otel.client(server, telemetry=telemetry) as client:
        text = "".join(d.text for d in client.stream_chat(_chat(Message("user", "hello"))))
    span = otel.span()
    assert [e.name for e in span.events] == ["gen_ai.content.prompt", "gen_ai.content.completion"]
    prompt = json.loads(span.events[0].attributes["gen_ai.prompt"])  # type: ignore[index]
    completion = json.loads(span.events[1].attributes["gen_ai.completion"])  # type: ignore[index]
    assert prompt[0]["parts"][0]["content"] == "hello"
    assert completion[0]["parts"][0]["content"] == text
    assert completion[0]["finish_reason"]


def test_content_is_capped_and_stays_valid_json(otel: Otel, server: LocalLunosServer) -> None:
    telemetry = otel.telemetry(capture_content=True, semconv="latest", max_content_bytes=200)
    long = "é" * 500 + '"quoted"' + "z" * 500
    with otel.client(server, telemetry=telemetry) as client:
        client.chat(_chat(Message("user", long), Message("user", "second")))
    attrs = dict(otel.span().attributes or {})
    raw = attrs["gen_ai.input.messages"]
    assert len(raw.encode("utf-8")) <= 200
    parsed = json.loads(raw)
    assert [m["role"] for m in parsed] == ["user", "user"]
    assert parsed[0]["parts"][0]["content"].endswith("…")
    assert attrs["lunos.content.truncated"] is True


def test_fit_handles_escapes_and_tiny_caps() -> None:
    value = [{"role": "user", "parts": [{"type": "text", "content": '\\"\n' * 300}]}]
    text, cut = fit(value, 100)
    assert cut and len(text.encode("utf-8")) <= 100
    json.loads(text)
    small, cut_small = fit([{"type": "text", "content": "ok"}], 100)
    assert not cut_small and json.loads(small)[0]["content"] == "ok"


def test_no_secret_in_any_span_event_or_metric(otel: Otel) -> None:
    telemetry = otel.telemetry(capture_content=True, semconv="latest")
    with LocalLunosServer(api_key=MARKER_KEY) as server:
        client = LunosClient(
            api_key=MARKER_KEY, base_url=server.base_url, max_retries=1, observers=(telemetry,)
        )
        with client:
            pasted = Message("user", f"my key is {MARKER_KEY} and api_key={MARKER_KEY}")
            client.chat(_chat(pasted))
            list(client.stream_chat(_chat(pasted), api="messages"))
            client.embed(EmbeddingRequest(model="openai/text-embedding-3-small", input=["x"]))
            list_models(client=client)
            get_balance(client=client)
            echo = {"error": {"message": f"invalid key Bearer {MARKER_KEY} ({MARKER_KEY})"}}
            server.enqueue(ErrorReply(401, body=echo))
            with pytest.raises(E.AuthenticationError):
                client.chat(_chat(Message("user", "hi")))
            server.enqueue(ErrorReply(500, body=echo))
            server.enqueue(ErrorReply(500, body=echo))
            with pytest.raises(E.APIStatusError):
                list(client.stream_chat(_chat(Message("user", "hi"))))
        # URL credentials (meant for a proxy; this server refuses them, which is recorded)
        host_port = server.base_url.split("//", 1)[1]
        with (
            LunosClient(
                api_key=MARKER_KEY,
                base_url=f"http://user:{PASSWORD}@{host_port}",
                max_retries=0,
                observers=(telemetry,),
            ) as credentialed,
            pytest.raises(E.AuthenticationError),
        ):
            credentialed.chat(_chat(pasted))
    recorded = _everything_recorded(otel)
    assert len(otel.spans()) == 8
    assert sum(1 for span in otel.spans() if span.events) == 3  # each failure recorded
    assert any("my key is ***" in text for text in recorded)  # content captured, masked...
    hits = [text for text in recorded if MARKER_KEY in text or PASSWORD in text]
    assert hits == []  # ... but never the key or the password
