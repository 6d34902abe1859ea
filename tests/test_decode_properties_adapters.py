"""Property tests, one layer up (#16.4): whatever a decoder accepts, both adapters can build.

The wire property tests prove decoders return well-typed results or WireFormatError. This
file feeds what they accept into each adapter's converters (LangChain ``ChatResult`` /
``AIMessageChunk``, LlamaIndex ``ChatResponse``), so a malformed reply can never surface as
a framework's own validation error (the numeric ``tool_use`` id that used to reach
LangChain's pydantic models is the case that motivated it).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire.test_decode_properties import (
    CHAT_CHUNKS,
    CHAT_REPLY,
    MSG_EVENTS,
    MSG_REPLY,
    PROPERTY,
    json_objects,
    mutated,
)

from lunos_integrations.errors import WireFormatError
from lunos_integrations.wire import chat_completions as cc
from lunos_integrations.wire import messages as ms
from lunos_integrations.wire.types import ChatDelta, ChatResult

pytestmark = pytest.mark.timeout(300)


def _build_all(result: ChatResult, deltas: list[ChatDelta], api: str) -> None:
    from lunos_integrations.langchain.messages_out import StreamState as LCStream
    from lunos_integrations.langchain.messages_out import result_to_chat_result
    from lunos_integrations.llama_index.messages_out import StreamState as LIStream
    from lunos_integrations.llama_index.messages_out import chat_response_from_result

    result_to_chat_result(result, "requested/model", api)
    chat_response_from_result(result)
    lc = LCStream("requested/model", api)
    li = LIStream()
    for delta in deltas:
        lc.chunk(delta)
        li.step(delta)
    lc.final_chunk()
    if li.needs_final():
        li.final()


def _decode_or_none(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except WireFormatError:
        return None


@PROPERTY
@given(st.one_of(mutated(CHAT_REPLY), json_objects), st.data())
def test_chat_route_results_build_in_both_frameworks(body: Any, data: st.DataObject) -> None:
    result = _decode_or_none(cc.decode_response, body)
    decoder = cc.ChunkDecoder()
    deltas = []
    for chunk in CHAT_CHUNKS:
        raw = data.draw(mutated(chunk)) if data.draw(st.booleans()) else chunk
        delta = _decode_or_none(decoder.feed, raw)
        if delta is not None:
            deltas.append(delta)
    _build_all(result or ChatResult(text=""), deltas, "chat_completions")


@PROPERTY
@given(st.one_of(mutated(MSG_REPLY), json_objects), st.data())
def test_messages_route_results_build_in_both_frameworks(body: Any, data: st.DataObject) -> None:
    result = _decode_or_none(ms.decode_response, body)
    decoder = ms.MessagesStreamDecoder()
    deltas = []
    for name, payload in MSG_EVENTS:
        raw = data.draw(mutated(payload)) if data.draw(st.booleans()) else payload
        delta = _decode_or_none(decoder.feed, name, raw)
        if delta is not None:
            deltas.append(delta)
    _build_all(result or ChatResult(text=""), deltas, "messages")
