"""The neutral request/response model shared by every route codec and framework adapter.

Framework adapters translate LangChain / LlamaIndex objects into these types; the route
codecs (``chat_completions``, ``messages``, ``embeddings``) translate these types into the
JSON of one Lunos route and back. Keeping one neutral form means the protocol knowledge
lives in exactly one place and both frameworks get the same behaviour.

Plain ``dataclasses`` with ``slots`` are used instead of pydantic models on purpose: these
objects are created per message and per stream chunk, and validation there is pure
overhead (the adapters have already validated user input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

Role = Literal["system", "user", "assistant", "tool"]


# --------------------------------------------------------------------------- content


@dataclass(slots=True)
class TextPart:
    """Plain text. ``cache_control`` is passed through to routes that understand it."""

    text: str
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class ImagePart:
    """An image given either by ``url`` (http(s) URL) or by base64 ``data`` + ``mime_type``."""

    url: str | None = None
    data: str | None = None
    mime_type: str | None = None
    detail: str | None = None
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class FilePart:
    """A document (PDF and similar) given by ``url`` or base64 ``data`` + ``mime_type``."""

    url: str | None = None
    data: str | None = None
    mime_type: str | None = "application/pdf"
    filename: str | None = None
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class AudioPart:
    """Audio input as raw base64 ``data`` with a ``format`` such as ``wav`` or ``mp3``."""

    data: str
    format: str


@dataclass(slots=True)
class ReasoningPart:
    """Reasoning ("thinking") produced by a model.

    ``text`` is the readable reasoning. ``signature`` is the Anthropic thinking signature
    that must be echoed back verbatim; ``redacted_data`` holds an Anthropic
    ``redacted_thinking`` payload; ``details`` keeps OpenRouter-style ``reasoning_details``
    entries exactly as received so they can be sent back unchanged.
    """

    text: str = ""
    signature: str | None = None
    redacted_data: str | None = None
    details: list[dict[str, Any]] | None = None


ContentPart = Union[TextPart, ImagePart, FilePart, AudioPart]  # noqa: UP007


# --------------------------------------------------------------------------- messages


@dataclass(slots=True)
class ToolCall:
    """A tool call as the model produced it (arguments already decoded)."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class InvalidToolCall:
    """A tool call whose arguments were not a JSON object. Never silently coerced."""

    id: str | None
    name: str | None
    raw_arguments: str | None
    error: str


@dataclass(slots=True)
class Message:
    """One conversation turn in neutral form.

    ``content`` is a list of parts (a bare string is accepted and means one text part).
    Assistant turns may carry ``tool_calls`` and ``reasoning``; tool turns carry
    ``tool_call_id`` and ``is_error``.
    """

    role: Role
    content: list[ContentPart] | str = ""
    name: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    is_error: bool = False
    reasoning: list[ReasoningPart] = field(default_factory=list)


# --------------------------------------------------------------------------- request


@dataclass(slots=True)
class ToolSpec:
    """A function tool offered to the model; ``parameters`` is a JSON schema object."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class NamedToolChoice:
    """Force one specific tool."""

    name: str


#: "auto" | "none" | "required" (some tool) | a NamedToolChoice (that tool).
ToolChoice = Union[Literal["auto", "none", "required"], NamedToolChoice]  # noqa: UP007


@dataclass(slots=True)
class ResponseFormat:
    """``json_object`` (any JSON object) or ``json_schema`` (an instance of ``schema``)."""

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


@dataclass(slots=True)
class ChatRequest:
    """Everything a chat call can ask for, independent of the route.

    ``None`` means "not set": codecs omit unset optional fields from the wire body, because
    Lunos rejects parameters a model does not support.
    """

    model: str
    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    tools: list[ToolSpec] | None = None
    #: Provider tools (a web search tool, ...) sent verbatim after the function tools: the
    #: codecs know only function tools, and must not reshape what they do not know.
    server_tools: list[dict[str, Any]] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    # chat-completions reasoning controls
    reasoning_effort: str | None = None
    reasoning: dict[str, Any] | None = None
    # messages-route extended thinking, e.g. {"type": "enabled", "budget_tokens": 1024}
    thinking: dict[str, Any] | None = None
    fallback_model: str | None = None
    observability: bool | None = None
    user: str | None = None
    stream: bool = False
    # Ask for a usage chunk at the end of chat-completions streams.
    include_usage: bool = True
    # Merged last into the wire body: Lunos extras (plugins, modalities, web_search ...).
    extra_body: dict[str, Any] | None = None


#: ChatRequest fields that are plain per-call options with the same name in every adapter
#: (LangChain kwargs / fields, LlamaIndex additional_kwargs): each route's codec encodes
#: them its own way. Structured fields (messages, tools, tool_choice, response_format, stop)
#: are converted by the adapters.
OPTION_FIELDS: tuple[str, ...] = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "reasoning_effort",
    "reasoning",
    "thinking",
    "fallback_model",
    "observability",
    "user",
)


# --------------------------------------------------------------------------- response


@dataclass(slots=True)
class Citation:
    """A source the answer cites (a web-search result, a document passage).

    Both routes decode into this one form: chat-completions ``annotations``
    (``url_citation``, nested OpenAI style or flat OpenRouter style) and Messages-route
    ``citations`` on text blocks. ``start_index`` / ``end_index`` are character offsets
    into the reply text (:attr:`ChatResult.text`): the server's own on the chat route, the
    span of the cited text block on the Messages route. ``kind`` is the wire type
    (``url_citation``, ``web_search_result_location``, ``char_location`` ...); keys this
    type has no field for are kept in ``extras``, so nothing the server sent is lost.
    """

    kind: str = "url_citation"
    url: str | None = None
    title: str | None = None
    start_index: int | None = None
    end_index: int | None = None
    cited_text: str | None = None
    #: OpenRouter-style page excerpt (``url_citation.content``).
    content: str | None = None
    extras: dict[str, Any] | None = None


@dataclass(slots=True)
class Usage:
    """Token counts in one vocabulary for both routes.

    ``input_tokens`` always *includes* cached tokens (Anthropic reports them separately;
    the messages codec adds them back) so totals mean the same on both routes.
    ``cost`` is the USD cost when the server reported one; ``cost_source`` is
    ``"catalog"`` when the client priced it instead (telemetry reports which).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None
    cost_source: str | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class ChatResult:
    """A complete (non-streamed, or fully assembled) assistant reply."""

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    invalid_tool_calls: list[InvalidToolCall] = field(default_factory=list)
    reasoning: list[ReasoningPart] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    provider: str | None = None
    system_fingerprint: str | None = None
    images: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    #: Messages-route server-tool blocks (``server_tool_use``, ``web_search_tool_result``
    #: ...) exactly as received: the server ran the tool, the caller may show or echo them.
    server_tool_blocks: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] | None = None
    #: Set by the client (not the codecs): the request id header, when the server sent one.
    request_id: str | None = None
    #: Set by the client: seconds the call was held by the rate governor before sending.
    rate_limit_wait_s: float = 0.0


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call; fragments with the same ``index`` concatenate."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class ChatDelta:
    """One decoded stream event, in neutral form. Empty fields mean "nothing new"."""

    text: str = ""
    reasoning_text: str = ""
    reasoning_signature: str | None = None
    reasoning_details: list[dict[str, Any]] | None = None
    redacted_reasoning: str | None = None
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    provider: str | None = None
    system_fingerprint: str | None = None
    images: list[str] = field(default_factory=list)
    # Tuples, not lists: a delta is built per stream event, and an empty tuple costs no
    # allocation (these are set whole by the decoders, never appended to).
    citations: tuple[Citation, ...] = ()
    server_tool_blocks: tuple[dict[str, Any], ...] = ()
    #: Set by the client on the first delta of a stream: the response's request id header.
    request_id: str | None = None


# --------------------------------------------------------------------------- embeddings


@dataclass(slots=True)
class EmbeddingRequest:
    model: str
    input: list[str]
    dimensions: int | None = None
    user: str | None = None
    extra_body: dict[str, Any] | None = None


@dataclass(slots=True)
class EmbeddingResult:
    vectors: list[list[float]]
    model: str | None = None
    usage: Usage | None = None
