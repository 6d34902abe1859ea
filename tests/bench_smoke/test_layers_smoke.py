"""Smoke test of the per-layer breakdown (``python -m benchmarks.layers``): every layer runs
end to end against the benchmark server and delivers the whole reply; no timing asserted."""

from __future__ import annotations

import math

import pytest

from benchmarks import layers


@pytest.mark.timeout(120)
@pytest.mark.parametrize("api", ["chat_completions", "messages"])
def test_every_layer_drains_the_reply_and_is_reported(api: str) -> None:
    rows = layers.measure(api, chunks=5, rounds=1, calls=1)
    names = [name for name, _ in rows]
    assert names[0].startswith("httpx") and "ChatLunos.stream (LangChain loop)" in names
    assert "LunosLLM.stream_chat (LlamaIndex wrapper)" in names
    assert all(math.isfinite(ms) and ms > 0 for _, ms in rows)
    text = layers.render(api, 5, rows)
    assert all(f"| {name} |" in text for name in names)


def test_each_layer_sees_every_chunk() -> None:
    """The layers measure the same reply: the framework wrappers neither drop nor add chunks
    to what our adapters yield, and the core yields a delta per text chunk at least."""
    from benchmarks.run import bench_server

    with bench_server() as (url, key):
        fns = layers._layers(url, key, "chat_completions", 7)
        counts = {name: fn() for name, fn in fns.items()}
    assert counts["transport (SSE + JSON)"] >= counts["core (codec + bookkeeping)"] >= 7
    assert counts["ChatLunos.stream (LangChain loop)"] == counts["ChatLunos._stream"]
    assert counts["LunosLLM.stream_chat (LlamaIndex wrapper)"] == counts["LunosLLM._stream_chat"]
    assert counts["ChatLunos._stream"] >= 8  # 7 text chunks and the final usage chunk
