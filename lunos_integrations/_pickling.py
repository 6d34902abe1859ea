"""What a pickled model carries to another process, and what it leaves behind.

Why: Dask, Ray, LlamaIndex's ``IngestionPipeline(num_workers=...)``, ``multiprocessing``
and Celery ship models to worker processes by pickling them. The copy must answer exactly
like the original, so it carries the *resolved* key, base URL and app id (a worker's
environment may lack ``LUNOS_API_KEY`` or point ``LUNOS_BASE_URL`` elsewhere). It never
carries the per-process :class:`~lunos_integrations.client.LunosClient`: that holds a lease
on this process's connection pools and a prepared ``Authorization`` header, so pickling it
would put the key in the pickle a second time and hand the worker a lease it never took.
The copy builds its own client, and its own connections, in the worker.

The key travels inside its :class:`~pydantic.SecretStr`, which pickles the secret value
itself: a pickle of a model is as sensitive as the key (see the README).
"""

from __future__ import annotations

import pickle
from typing import Any

from .errors import LunosConfigError

#: Settings a copy must not re-resolve from the worker's environment.
PINNED = ("api_key", "base_url", "app_id")


def model_state(model: Any, state: dict[str, Any], client_attr: str = "_client") -> dict[str, Any]:
    """``state`` (pydantic's ``__getstate__``) without the client, with settings pinned.

    Raises ``pickle.PicklingError`` for a model built with injected httpx clients: those
    hold sockets and locks, and silently replacing them in the copy (custom TLS, a proxy
    transport, a mock) would change what the copy does.
    """
    private = dict(state.get("__pydantic_private__") or {})
    client = private.get(client_attr)
    transport = getattr(client, "transport", None)
    injected = [
        name
        for name in ("http_client", "http_async_client")
        if getattr(model, name, None) is not None
        or getattr(transport, f"_{name}", None) is not None
    ]
    if injected:
        raise pickle.PicklingError(
            f"{type(model).__name__} was built with {' and '.join(injected)}, which cannot be "
            "pickled (an httpx client holds sockets and locks). Build the model without "
            "injected clients to send it to other processes, or build it in the worker."
        )
    values = dict(state["__dict__"])
    config = getattr(client, "config", None)
    if config is None:
        config = _resolved_config(model)
    if config is not None:
        for name in PINNED:
            if name in values and values[name] is None:
                values[name] = getattr(config, name)
    if client_attr in private:
        private[client_attr] = None
    return {**state, "__dict__": values, "__pydantic_private__": private}


def _resolved_config(model: Any) -> Any:
    """The settings a client of ``model`` would use, or ``None`` when they are incomplete
    (e.g. no key yet: a model may be built, and pickled, before the environment is set)."""
    from .client import client_from_settings

    try:
        client = client_from_settings(model)
    except LunosConfigError:
        return None
    try:
        return client.config
    finally:
        client.close()


class RebuiltOnUnpickle:
    """Pickling for the LlamaIndex models: pydantic's state without the client, rebuilt by
    ``__init__`` on load (one copy for LunosLLM and LunosEmbedding).

    Pydantic's state, not LlamaIndex's (which trial-pickles every attribute and keeps the
    client, and with it a second copy of the key); ``__init__`` re-run as LlamaIndex does,
    so the copy builds its client, but without its silent fallback to a half-built object.
    """

    def __getstate__(self) -> dict[Any, Any]:
        from pydantic import BaseModel

        return model_state(self, BaseModel.__getstate__(self))  # type: ignore[arg-type]

    def __setstate__(self, state: dict[Any, Any]) -> None:
        type(self).__init__(self, **state["__dict__"])
