"""Request routing for the local server: auth, validation and the fake model's replies.

Why a separate module: this is the "what does Lunos answer" logic, independent of sockets,
so it can be read (and changed) without touching the connection handling in ``server.py``.

Routes (only under ``/v1``; anything else is a 404 in the Lunos envelope):

* ``GET /v1/models`` — catalog, ``input``/``output`` filters, wrapper per ``catalog_shape``.
  Works without a key (as documented for many deployments) but rejects a wrong key.
* ``POST /v1/chat/completions`` — JSON or SSE (``stream: true``; usage chunk only with
  ``stream_options.include_usage``). ``Authorization: Bearer <key>``.
* ``POST /v1/messages`` — Anthropic Messages, JSON or SSE. Bearer or ``x-api-key``.
* ``POST /v1/embeddings`` — deterministic vectors.
* ``GET /v1/balance`` — the §6.1 shape; its 401 uses the balance-style envelope.

Errors: 401 ``invalid_api_key``; 400 for malformed JSON or invalid fields; 404
``model_not_found`` for unknown models; 400 ``unsupported_parameter`` for a chat parameter not
in the model's ``supportedParameters`` when ``strict_parameters`` is on (lunos-api.md §3.1),
or as the ``catalog_profile`` says (:data:`.catalog.CATALOG_PROFILES`); with
``strict_openai_types`` on, chat messages that strict OpenAI-compatible servers refuse
(``content: null`` …) get llama-cpp-python's validation error (see :mod:`.strict_types`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import catalog as catalog_mod
from . import fake_embeddings, fake_model, replies, strict_types, web_search
from .billing import Billing, embedding_cost
from .http11 import HTTPRequest
from .scripting import error_envelope
from .sse import SSEFrame

StreamKind = Literal["chat", "messages", "other"]

GATED_CHAT_PARAMETERS = frozenset(catalog_mod.GATED_CHAT_PARAMETERS_ORDER)
"""Optional chat parameters that ``strict_parameters`` checks against ``supportedParameters``.

Unknown keys (``observability``, ``fallback_model``, ``appId`` …) are tolerated, as Lunos does.
"""


@dataclass
class Reply:
    """What to send: a complete body, or SSE frames when ``frames`` is not None."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    frames: list[SSEFrame] | None = None
    kind: StreamKind = "other"


def json_reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Reply:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status=status, body=data, headers=dict(headers or {}))


def error_reply(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> Reply:
    return json_reply(status, error_envelope(status, message, code, param))


def stream_kind_for(path: str) -> StreamKind:
    if path.rstrip("/").endswith("/messages"):
        return "messages"
    if path.rstrip("/").endswith("/chat/completions"):
        return "chat"
    return "other"


class _ApiError(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class Router:
    """Turns a parsed request into a :class:`Reply`. Runs on the server's event-loop thread."""

    def __init__(
        self,
        *,
        api_key: str,
        require_auth: bool,
        report_cost: bool,
        catalog_shape: catalog_mod.CatalogShape,
        strict_parameters: bool,
        models: Sequence[Mapping[str, Any]],
        balance: float,
        strict_openai_types: bool = False,
        catalog_profile: catalog_mod.CatalogProfile = "full",
        catalog_delay: float = 2.0,
    ) -> None:
        if catalog_shape not in catalog_mod.CATALOG_SHAPES:
            raise ValueError(f"catalog_shape must be one of {catalog_mod.CATALOG_SHAPES}")
        if catalog_profile not in catalog_mod.CATALOG_PROFILES:
            raise ValueError(f"catalog_profile must be one of {catalog_mod.CATALOG_PROFILES}")
        self.catalog_profile: catalog_mod.CatalogProfile = catalog_profile
        #: Seconds the ``"slow"`` profile waits before answering ``GET /v1/models``.
        self.catalog_delay = catalog_delay
        self.api_key = api_key
        self.require_auth = require_auth
        self.report_cost = report_cost
        self.catalog_shape: catalog_mod.CatalogShape = catalog_shape
        self.strict_parameters = strict_parameters
        self.strict_openai_types = strict_openai_types
        self.models = [dict(m) for m in models]
        #: What ``GET /v1/models`` lists (and what rejections are checked against).
        self.listed = (
            catalog_mod.documented_models(self.models)
            if catalog_profile in ("documented", "strict")
            else self.models
        )
        self.balance = balance
        #: What the server billed for the replies it generated (see :mod:`.billing`).
        self.billing = Billing()
        self._lock = threading.Lock()
        self._seen_systems: set[str] = set()
        self._counter = 0

    def reset(self) -> None:
        """Forget prompt-cache state, id counters and what was billed."""
        self.billing.clear()
        with self._lock:
            self._seen_systems.clear()
            self._counter = 0

    def _next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _cache_hit(self, system: str) -> bool:
        if not system:
            return False
        with self._lock:
            hit = system in self._seen_systems
            self._seen_systems.add(system)
            return hit

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: HTTPRequest) -> Reply:
        try:
            return self._dispatch(request)
        except _ApiError as exc:
            return exc.reply
        except fake_model.FakeModelError as exc:
            return error_reply(exc.status, exc.message, exc.code, exc.param)

    def _dispatch(self, request: HTTPRequest) -> Reply:
        path = request.path.rstrip("/") or "/"
        routes = {
            "/v1/models": ("GET", self._models),
            "/v1/chat/completions": ("POST", self._chat),
            "/v1/messages": ("POST", self._messages),
            "/v1/embeddings": ("POST", self._embeddings),
            "/v1/balance": ("GET", self._balance),
        }
        if path not in routes:
            return error_reply(
                404, f"Unknown endpoint {request.method} {request.path}", "not_found"
            )
        method, handler = routes[path]
        if request.method != method:
            reply = error_reply(
                405, f"Method {request.method} not allowed on {path}", "method_not_allowed"
            )
            reply.headers["Allow"] = method
            return reply
        return handler(request)

    # ------------------------------------------------------------------ helpers

    def _presented_key(self, request: HTTPRequest, allow_x_api_key: bool) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        if allow_x_api_key and "x-api-key" in request.headers:
            return request.headers["x-api-key"].strip()
        return None

    def _check_auth(self, request: HTTPRequest, allow_x_api_key: bool = False) -> None:
        if not self.require_auth:
            return
        if self._presented_key(request, allow_x_api_key) != self.api_key:
            raise _ApiError(error_reply(401, "Missing or invalid secret key", "invalid_api_key"))

    def _json_body(self, request: HTTPRequest) -> dict[str, Any]:
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _ApiError(
                error_reply(400, f"Request body is not valid JSON: {exc}", "invalid_json")
            ) from exc
        if not isinstance(body, dict):
            raise _ApiError(error_reply(400, "Request body must be a JSON object", "invalid_json"))
        return body

    def _model(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id:
            raise _ApiError(
                error_reply(400, "'model' is required", "invalid_request_error", "model")
            )
        model = catalog_mod.find_model(self.models, model_id)
        if model is None:
            raise _ApiError(
                error_reply(
                    404, f"The model '{model_id}' does not exist", "model_not_found", "model"
                )
            )
        return model

    def catalog_delay_for(self, request: HTTPRequest) -> float:
        """Extra seconds before answering (the ``"slow"`` profile's catalog)."""
        if self.catalog_profile == "slow" and request.path.rstrip("/") == "/v1/models":
            return self.catalog_delay
        return 0.0

    def _listed(self, model: Mapping[str, Any]) -> Mapping[str, Any]:
        return catalog_mod.find_model(self.listed, str(model.get("id"))) or model

    def _check_strict(self, body: Mapping[str, Any], model: Mapping[str, Any]) -> None:
        profile = self.catalog_profile
        if not self.strict_parameters and profile not in ("documented", "strict"):
            return
        supported = self._listed(model).get("supportedParameters")
        if not isinstance(supported, list):
            return
        for name in body:
            if profile == "documented" and name != "response_format":
                continue  # the docs document this one rejection only
            if name in GATED_CHAT_PARAMETERS and name not in supported:
                raise _ApiError(
                    error_reply(
                        400,
                        f"Unsupported parameter '{name}' for model '{model.get('id')}'",
                        "unsupported_parameter",
                        name,
                    )
                )

    def _require_chat_model(self, model: Mapping[str, Any]) -> None:
        if catalog_mod.is_embedding_model(model):
            raise _ApiError(
                error_reply(
                    400,
                    f"Model '{model.get('id')}' is an embedding model and cannot be used for chat",
                    "invalid_request_error",
                    "model",
                )
            )

    # ------------------------------------------------------------------ routes

    def _check_strict_messages(self, body: Mapping[str, Any], model: Mapping[str, Any]) -> None:
        """``"strict"`` on /messages: rejected in the Anthropic envelope (no ``param``)."""
        if self.catalog_profile != "strict":
            return
        supported = self._listed(model).get("supportedParameters")
        if not isinstance(supported, list):
            return
        for name in body:
            listed_as = catalog_mod.MESSAGES_PARAMETER_NAMES.get(name)
            if listed_as is not None and listed_as not in supported:
                raise _ApiError(
                    json_reply(
                        400,
                        {
                            "type": "error",
                            "error": {
                                "type": "invalid_request_error",
                                "message": f"{name}: Unsupported parameter for model "
                                f"'{model.get('id')}'",
                            },
                        },
                    )
                )

    def _models(self, request: HTTPRequest) -> Reply:
        presented = self._presented_key(request, allow_x_api_key=True)
        if self.require_auth and presented is not None and presented != self.api_key:
            return error_reply(401, "Missing or invalid secret key", "invalid_api_key")
        if self.catalog_profile == "none":
            return error_reply(404, f"Unknown endpoint GET {request.path}", "not_found")
        if self.catalog_profile == "unauthorized":
            return error_reply(401, "This key may not list models", "invalid_api_key")
        models = catalog_mod.filter_models(
            self.listed, input=request.query.get("input"), output=request.query.get("output")
        )
        return json_reply(200, catalog_mod.wrap_catalog(models, self.catalog_shape))

    def _balance(self, request: HTTPRequest) -> Reply:
        if self.require_auth and self._presented_key(request, False) != self.api_key:
            return json_reply(
                401,
                {
                    "success": False,
                    "message": "Missing or invalid secret key",
                    "error": "UNAUTHORIZED",
                },
            )
        return json_reply(
            200,
            {
                "success": True,
                "message": "Balance retrieved successfully",
                "data": {
                    "balance": self.balance,
                    "email": "local-test@example.com",
                    "alertBalance": 1.0,
                    "enableAlert": 1,
                    "updatedAt": "2026-01-15T10:30:00.000Z",
                    "isAlertEnabled": True,
                    "isBalanceLow": self.balance < 1.0,
                },
            },
        )

    def _chat(self, request: HTTPRequest) -> Reply:
        self._check_auth(request)
        body = self._json_body(request)
        if self.strict_openai_types:
            errors = strict_types.strict_message_errors(body)
            if errors:
                status = strict_types.STRICT_REJECTION_STATUS
                return json_reply(status, strict_types.strict_rejection_body(errors))
        model = self._model(body)
        self._require_chat_model(model)
        self._check_strict(body, model)
        system = fake_model.system_text(body, "chat")
        turn = fake_model.chat_turn(body, model, cached_system=self._cache_hit(system))
        self.billing.charge("chat", str(model["id"]), request.headers.get("x-app-id"), turn.cost)
        number = self._next_id()
        completion_id = f"chatcmpl-local{number}"
        search = web_search.search_for(body, turn.text, number)
        if body.get("stream") is True:
            options = body.get("stream_options")
            include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
            # "strict" rejects stream_options, like gateways that always send usage
            include_usage = include_usage or self.catalog_profile == "strict"
            frames = replies.chat_completion_frames(
                turn, str(model["id"]), completion_id, self.report_cost, include_usage, search
            )
            return Reply(200, content_type="text/event-stream", frames=frames, kind="chat")
        return json_reply(
            200,
            replies.chat_completion_json(
                turn, str(model["id"]), completion_id, self.report_cost, search
            ),
        )

    def _messages(self, request: HTTPRequest) -> Reply:
        self._check_auth(request, allow_x_api_key=True)
        body = self._json_body(request)
        model = self._model(body)
        self._require_chat_model(model)
        self._check_strict_messages(body, model)
        system = fake_model.system_text(body, "messages")
        turn = fake_model.messages_turn(body, model, cached_system=self._cache_hit(system))
        app_id = request.headers.get("x-app-id")
        self.billing.charge("messages", str(model["id"]), app_id, turn.cost)
        number = self._next_id()
        message_id = f"msg_local{number}"
        search = web_search.search_for(body, turn.text, number)
        if body.get("stream") is True:
            frames = replies.message_frames(turn, str(model["id"]), message_id, search)
            return Reply(200, content_type="text/event-stream", frames=frames, kind="messages")
        return json_reply(200, replies.message_json(turn, str(model["id"]), message_id, search))

    def _embeddings(self, request: HTTPRequest) -> Reply:
        self._check_auth(request)
        body = self._json_body(request)
        model = self._model(body)
        if not catalog_mod.is_embedding_model(model):
            return error_reply(
                400,
                f"Model '{model.get('id')}' does not support embeddings",
                "invalid_request_error",
                "model",
            )
        reply = fake_embeddings.embeddings_reply(body, model)
        app_id = request.headers.get("x-app-id")
        self.billing.charge("embeddings", str(model["id"]), app_id, embedding_cost(model, reply))
        return json_reply(200, reply)
