"""``LunosEmbeddings``: LangChain ``Embeddings`` over ``POST /v1/embeddings``.

Why not ``OpenAIEmbeddings``: behind a gateway it tokenises texts with tiktoken and sends
token arrays, and its SDK asks for base64 vectors (langchain#12854, #30574). Here texts are
sent as raw strings and vectors come back as floats, always.

Inputs are split into chunks of ``chunk_size`` texts; up to ``max_concurrency`` chunks are in
flight at once (threads for the sync API, tasks for the async one), and vectors come back
in input order. Usage and cost of every request reach :func:`lunos_integrations.track_usage`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.load import Serializable
from langchain_core.utils import from_env, secret_from_env
from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_serializer,
    model_validator,
)

from .._pickling import model_state
from ..catalog import shared_catalog
from ..client import LunosClient, client_from_settings
from ..config import API_KEY_ENV, APP_ID_ENV, BASE_URL_ENV, DEFAULT_BASE_URL
from ..construction import safe_construction_error
from ..errors import LunosInputError
from ..redact import redact_repr_args, redact_url
from ..wire.types import EmbeddingRequest

__all__ = ["DEFAULT_EMBEDDING_MODEL", "LunosEmbeddings"]

DEFAULT_EMBEDDING_MODEL = "openai/text-embedding-3-small"
_KEY_NAMES = ("api_key", "lunos_api_key")  # the field and its alias


class LunosEmbeddings(Serializable, Embeddings):
    """Lunos embedding models for LangChain.

    Example:
        .. code-block:: python

            from lunos_integrations import LunosEmbeddings

            emb = LunosEmbeddings(model="openai/text-embedding-3-small", dimensions=512)
            vectors = emb.embed_documents(["first text", "second text"])

    The key comes from ``api_key`` or ``LUNOS_API_KEY``; the base URL from ``base_url`` or
    ``LUNOS_BASE_URL``; the app label (``X-App-ID``) from ``app_id`` or ``LUNOS_APP_ID``.
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, extra="forbid")

    model: str = Field(default=DEFAULT_EMBEDDING_MODEL, alias="model_name")
    """Lunos embedding model id (ids are opaque; use ``list_models(output="embedding")``)."""
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(API_KEY_ENV, default=None), alias="lunos_api_key"
    )
    base_url: str = Field(
        default_factory=from_env(BASE_URL_ENV, default=DEFAULT_BASE_URL), alias="lunos_base_url"
    )
    app_id: str | None = Field(default_factory=from_env(APP_ID_ENV, default=None))
    """Sent as ``X-App-ID`` for per-app usage attribution."""
    dimensions: int | None = None
    """Output vector size, for models that support shortening (sent only when set)."""
    chunk_size: int = 512
    """Texts per request."""
    max_concurrency: int = 4
    """Requests in flight at once when a call needs several chunks."""
    user: str | None = None
    default_headers: dict[str, str] | None = None
    timeout: float | None = None
    max_retries: int | None = None
    max_response_bytes: int | None = None
    """Refuse a reply larger than this once decompressed (default 256 MiB)."""
    rate_governor: bool = True
    """Send every attempt through the key's shared rate governor (off: ``False``)."""
    requests_per_minute: float | None = None
    """The key's known request limit (default: learned from refusals)."""
    tokens_per_minute: float | None = None
    """The key's known token limit (default: learned from refusals)."""
    extra_body: dict[str, Any] | None = None
    """Extra JSON fields merged into every request body, sent verbatim."""
    gate_parameters: Literal["learn", "catalog"] | bool = "learn"
    """Kept for symmetry with the chat models (embedding requests carry no gated parameters)."""

    _client: LunosClient | None = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        error: BaseException | None = None
        try:
            super().__init__(**kwargs)
        except ValidationError as exc:  # it would print the inputs, key and URLs included
            error = safe_construction_error(exc)
        if error is not None:
            raise error
        for name in ("chunk_size", "max_concurrency"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LunosInputError(f"{name} must be an integer >= 1, got {value!r}", param=name)
        if self.dimensions is not None and (
            isinstance(self.dimensions, bool) or self.dimensions < 1
        ):
            raise LunosInputError(
                f"dimensions must be a positive integer, got {self.dimensions!r}",
                param="dimensions",
            )
        if not self.model or not self.model.strip():
            raise LunosInputError("model must be a non-empty model id", param="model")
        self._client = self._build_client()  # no I/O; a missing key fails here, not later

    def __repr_args__(self) -> Any:
        return redact_repr_args(super().__repr_args__())

    @field_serializer("base_url")
    def _redact_url_fields(self, value: str | None) -> str | None:
        """``model_dump`` shows the URL with its password masked, as reprs do."""
        return redact_url(value) if value else value

    def _build_client(self) -> LunosClient:
        return client_from_settings(self, catalog=shared_catalog)

    def __getstate__(self) -> dict[Any, Any]:
        """Pickles without its client; the copy opens its own connections (see README)."""
        return model_state(self, super().__getstate__())

    @property
    def client(self) -> LunosClient:
        """The client (connection pools are shared process-wide, so this is cheap)."""
        if self._client is None:
            self._client = self._build_client()
        return self._client

    @model_validator(mode="before")
    @classmethod
    def _unset_key_reads_environment(cls, data: Any) -> Any:
        """A key passed as None (as ``load`` does without the key) means LUNOS_API_KEY."""
        if isinstance(data, dict) and all(data.get(k) is None for k in _KEY_NAMES):
            data = {k: v for k, v in data.items() if k not in _KEY_NAMES}
        return data

    # ------------------------------------------------------------------ serialization
    # Serializable (unlike LangChain's own embeddings) so ``dumpd`` / ``load`` rebuild it
    # like ChatLunos; the key is written as a reference to LUNOS_API_KEY, never as text.

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["lunos_integrations", "langchain", "embeddings"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": API_KEY_ENV}

    # ------------------------------------------------------------------ helpers

    def _request(self, texts: list[str]) -> EmbeddingRequest:
        return EmbeddingRequest(
            model=self.model,
            input=texts,
            dimensions=self.dimensions,
            user=self.user,
            extra_body=self.extra_body,
        )

    def _chunks(self, texts: Sequence[str]) -> list[list[str]]:
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise LunosInputError(
                "texts must be a list of strings (use embed_query for a single text)",
                param="texts",
            )
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise LunosInputError(
                    f"texts[{i}] must be a string, got {type(text).__name__}", param=f"texts[{i}]"
                )
        items = list(texts)
        return [items[i : i + self.chunk_size] for i in range(0, len(items), self.chunk_size)]

    def _embed_chunk(self, chunk: list[str]) -> list[list[float]]:
        vectors = self.client.embed(self._request(chunk)).vectors
        _check_count(vectors, chunk)
        return vectors

    async def _aembed_chunk(self, chunk: list[str]) -> list[list[float]]:
        vectors = (await self.client.aembed(self._request(chunk))).vectors
        _check_count(vectors, chunk)
        return vectors

    # ------------------------------------------------------------------ Embeddings API

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order; chunks of ``chunk_size`` run concurrently."""
        chunks = self._chunks(texts)
        if len(chunks) <= 1 or self.max_concurrency == 1:
            return [v for chunk in chunks for v in self._embed_chunk(chunk)]
        workers = min(self.max_concurrency, len(chunks))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # copied contexts: usage trackers active here keep receiving the threads' calls
            futures = [
                pool.submit(contextvars.copy_context().run, self._embed_chunk, chunk)
                for chunk in chunks
            ]
            return [v for f in futures for v in f.result()]

    def embed_query(self, text: str) -> list[float]:
        if not isinstance(text, str):
            raise LunosInputError(f"text must be a string, got {type(text).__name__}", param="text")
        return self._embed_chunk([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        chunks = self._chunks(texts)
        limit = asyncio.Semaphore(self.max_concurrency)

        async def run(chunk: list[str]) -> list[list[float]]:
            async with limit:
                return await self._aembed_chunk(chunk)

        results = await asyncio.gather(*(run(chunk) for chunk in chunks))
        return [v for vectors in results for v in vectors]

    async def aembed_query(self, text: str) -> list[float]:
        if not isinstance(text, str):
            raise LunosInputError(f"text must be a string, got {type(text).__name__}", param="text")
        return (await self._aembed_chunk([text]))[0]


def _check_count(vectors: list[list[float]], chunk: list[str]) -> None:
    if len(vectors) != len(chunk):
        from ..errors import APIResponseValidationError

        raise APIResponseValidationError(
            f"Lunos returned {len(vectors)} embeddings for {len(chunk)} inputs",
            status_code=200,
        )
