"""``LunosEmbedding``: a LlamaIndex ``BaseEmbedding`` over ``POST /v1/embeddings``.

Texts are sent as raw strings and vectors come back as floats (never token arrays or base64,
which break OpenAI-style embedding classes behind gateways). LlamaIndex does the batching:
``embed_batch_size`` texts per request, and ``num_workers`` batches in parallel for the
async batch API. Usage and cost reach :func:`lunos_integrations.track_usage`.

The API key is a ``SecretStr`` excluded from ``to_dict()`` / ``to_json()``, so persisting an
index's settings never writes it out.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_serializer

from .._pickling import RebuiltOnUnpickle
from ..catalog import shared_catalog
from ..client import LunosClient, client_from_settings
from ..config import app_id_setting, base_url_setting
from ..construction import safe_construction_error
from ..errors import APIResponseValidationError, LunosInputError
from ..redact import redact_repr_args, redact_url
from ..wire.types import EmbeddingRequest

__all__ = ["DEFAULT_EMBEDDING_MODEL", "LunosEmbedding"]

DEFAULT_EMBEDDING_MODEL = "openai/text-embedding-3-small"


class LunosEmbedding(RebuiltOnUnpickle, BaseEmbedding):
    """Lunos embedding models for LlamaIndex.

    Example:
        .. code-block:: python

            from llama_index.core import Settings
            from lunos_integrations import LunosEmbedding

            Settings.embed_model = LunosEmbedding(model_name="openai/text-embedding-3-small")
    """

    model_name: str = Field(
        default=DEFAULT_EMBEDDING_MODEL, description="Lunos embedding model id."
    )
    embed_batch_size: int = Field(default=100, gt=0, le=2048, description="Texts per request.")
    api_key: SecretStr | None = Field(default=None, exclude=True, description="Lunos key.")
    base_url: str | None = Field(default=None, description="Defaults to LUNOS_BASE_URL.")
    app_id: str | None = Field(default=None, description="Sent as X-App-ID.")
    dimensions: int | None = Field(default=None, description="Output size, when supported.")
    user: str | None = None
    default_headers: dict[str, str] | None = None
    timeout: float | None = None
    max_retries: int | None = None
    max_response_bytes: int | None = None
    rate_governor: bool = True
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    extra_body: dict[str, Any] | None = None

    _client: LunosClient = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        key = kwargs.pop("api_key", None)
        if key is not None and not isinstance(key, SecretStr):
            key = SecretStr(str(key))
        # Resolved now, so the object and to_dict() show where requests go.
        kwargs["base_url"] = base_url_setting(kwargs.get("base_url"))
        kwargs["app_id"] = app_id_setting(kwargs.get("app_id"))
        kwargs["api_key"] = key
        error: BaseException | None = None
        try:
            super().__init__(**kwargs)
        except ValidationError as exc:  # it would print the inputs, key and URLs included
            error = safe_construction_error(exc)
        if error is not None:
            raise error
        dims = self.dimensions
        if dims is not None and (isinstance(dims, bool) or dims < 1):
            raise LunosInputError(
                f"dimensions must be a positive integer, got {dims!r}", param="dimensions"
            )
        if not self.model_name or not self.model_name.strip():
            raise LunosInputError("model_name must be a non-empty model id", param="model_name")
        # Resolves LUNOS_API_KEY now: a missing key fails at construction. No I/O happens.
        self._client = client_from_settings(self, catalog=shared_catalog)
        if self.api_key is None:
            self.api_key = self._client.config.api_key

    @classmethod
    def class_name(cls) -> str:
        return "LunosEmbedding"

    def __repr_args__(self) -> Any:
        return redact_repr_args(super().__repr_args__())

    @field_serializer("base_url")
    def _redact_url_fields(self, value: str | None) -> str | None:
        """``to_dict`` / ``to_json`` show the URL with its password masked, as reprs do."""
        return redact_url(value) if value else value

    @property
    def client(self) -> LunosClient:
        return self._client

    def _request(self, texts: list[str]) -> EmbeddingRequest:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise LunosInputError(
                    f"texts[{i}] must be a string, got {type(text).__name__}", param=f"texts[{i}]"
                )
        return EmbeddingRequest(
            model=self.model_name,
            input=texts,
            dimensions=self.dimensions,
            user=self.user,
            extra_body=self.extra_body,
        )

    @staticmethod
    def _checked(vectors: list[list[float]], texts: list[str]) -> list[Embedding]:
        if len(vectors) != len(texts):
            raise APIResponseValidationError(
                f"Lunos returned {len(vectors)} embeddings for {len(texts)} inputs",
                status_code=200,
            )
        return vectors

    def _embed(self, texts: list[str]) -> list[Embedding]:
        if not texts:
            return []
        return self._checked(self._client.embed(self._request(texts)).vectors, texts)

    async def _aembed(self, texts: list[str]) -> list[Embedding]:
        if not texts:
            return []
        return self._checked((await self._client.aembed(self._request(texts))).vectors, texts)

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self._aembed([query]))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aembed([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(list(texts))

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await self._aembed(list(texts))
