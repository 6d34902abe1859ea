"""Wire codecs: neutral types ⇄ the JSON of each Lunos route. Pure, no I/O.

Routes are modules with the same function names, so import the module you need::

    from lunos_integrations.wire import chat_completions, messages
    body = chat_completions.encode_request(req)
"""

from __future__ import annotations

from . import chat_completions, embeddings, messages, models
from .accumulate import StreamAccumulator, merge_reasoning_details
from .messages import DEFAULT_MAX_TOKENS, MessagesStreamDecoder
from .models import ModelInfo, parse_model_list
from .tool_args import parse_tool_arguments
from .types import (
    AudioPart,
    ChatDelta,
    ChatRequest,
    ChatResult,
    Citation,
    ContentPart,
    EmbeddingRequest,
    EmbeddingResult,
    FilePart,
    ImagePart,
    InvalidToolCall,
    Message,
    NamedToolChoice,
    ReasoningPart,
    ResponseFormat,
    Role,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
    Usage,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "AudioPart",
    "ChatDelta",
    "ChatRequest",
    "ChatResult",
    "Citation",
    "ContentPart",
    "EmbeddingRequest",
    "EmbeddingResult",
    "FilePart",
    "ImagePart",
    "InvalidToolCall",
    "Message",
    "MessagesStreamDecoder",
    "ModelInfo",
    "NamedToolChoice",
    "ReasoningPart",
    "ResponseFormat",
    "Role",
    "StreamAccumulator",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolSpec",
    "Usage",
    "chat_completions",
    "embeddings",
    "merge_reasoning_details",
    "messages",
    "models",
    "parse_model_list",
    "parse_tool_arguments",
]
