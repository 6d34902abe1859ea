"""Unsupported parameters: what happens when a model refuses one, and how to choose.

Lunos rejects a request that carries a parameter the model does not support, but the
``supportedParameters`` lists its catalog publishes are incomplete (the documented ones
name five parameters; none lists ``stop``, ``seed`` or ``stream_options``). So by default
the integration sends what you set and learns from the server:

1. ``gate_parameters="learn"`` (default): the first request carrying a refused parameter
   gets a 400 naming it; that parameter is dropped, the request is sent again inside the
   same call, one ``LunosUnsupportedParameterWarning`` says so, and later calls to that
   model no longer send it (one extra request per parameter per process);
2. ``gate_parameters=False``: everything is sent and the 400 is raised as
   ``UnsupportedParameterError`` naming the parameter;
3. ``gate_parameters="catalog"``: the old pre-filter — anything the catalog does not list is
   dropped before sending, even parameters the server would have accepted.

Refusals cannot be provoked on the real API on purpose, so this recipe always runs against
local servers: one that rejects every unlisted parameter (profile ``"strict"``) and one that
behaves as the docs describe (``"documented"``: only an unlisted ``response_format`` is
refused).

Run: ``python cookbook/unsupported_parameters.py``.
"""

from __future__ import annotations

import atexit
import warnings
from collections.abc import Callable
from typing import Any

from _setup import CHAT_MODEL, connection, section

from lunos_integrations import ChatLunos, track_usage
from lunos_integrations.errors import UnsupportedParameterError
from lunos_integrations.testing import LocalLunosServer

CHAT_PATH = "/v1/chat/completions"


def local(profile: str) -> LocalLunosServer:
    server = LocalLunosServer(catalog_profile=profile).start()  # type: ignore[arg-type]
    atexit.register(server.stop)
    return server


def sent(server: LocalLunosServer, since: int, names: tuple[str, ...]) -> list[list[str]]:
    """For each chat request since ``since``: which of ``names`` it carried."""
    return [
        [n for n in names if n in req.json]
        for req in server.requests[since:]
        if req.path == CHAT_PATH and isinstance(req.json, dict)
    ]


def show_warnings(run: Callable[[], Any]) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run()
    for w in caught:
        print(f"warning: {w.category.__name__}: {w.message}")
    if not caught:
        print("warning: none")
    return result


def main() -> None:
    conn = connection()
    section("0. your connection: seed and stop are sent as set")
    answer = ChatLunos(model=CHAT_MODEL, seed=7, **conn.kwargs).invoke("Say hello", stop=["\n\n"])
    print(f"answer: {answer.content}")
    if not conn.offline:
        print("Refusals cannot be provoked on the real API: the rest uses local servers.")
    strict = local("strict")
    documented = local("documented")
    names = ("stop", "seed", "temperature")

    section("1. default 'learn': the server's 400 teaches the client")
    model = ChatLunos(
        model=CHAT_MODEL, seed=7, temperature=0, base_url=strict.base_url, api_key=strict.api_key
    )
    since = len(strict.requests)
    answer = show_warnings(lambda: model.invoke("Say hello"))
    print(f"answer: {answer.content}")
    print(f"first call, requests carried: {sent(strict, since, names)}")
    since = len(strict.requests)
    show_warnings(lambda: model.invoke("Say hello again"))
    print(f"second call, requests carried: {sent(strict, since, names)}")

    section("2. a parameter the server accepts is always sent")
    model = ChatLunos(
        model=CHAT_MODEL, seed=7, base_url=documented.base_url, api_key=documented.api_key
    )
    since = len(documented.requests)
    show_warnings(lambda: model.invoke("Count: one two three four", stop=["three"]))
    print(f"requests carried: {sent(documented, since, names)}")
    with track_usage() as usage:
        for _ in model.stream("Stream please"):
            pass
    print(f"stream usage reported: {usage.requests} call(s), cost ${usage.total_cost:.6f}")

    section("3. gate_parameters=False: a typed error instead")
    model = ChatLunos(
        model=CHAT_MODEL,
        seed=7,
        gate_parameters=False,
        base_url=strict.base_url,
        api_key=strict.api_key,
    )
    try:
        model.invoke("Say hello")
    except UnsupportedParameterError as exc:  # LangChain sees it as a BadRequest too
        print(f"raised {type(exc).__name__} for param {exc.param!r}")
    except Exception as exc:  # the LangChain error wraps ours: look at its cause
        cause = exc.__cause__
        print(f"raised {type(cause).__name__} for param {getattr(cause, 'param', None)!r}")

    section("4. gate_parameters='catalog': the opt-in pre-filter")
    model = ChatLunos(
        model=CHAT_MODEL,
        seed=7,
        gate_parameters="catalog",
        base_url=documented.base_url,
        api_key=documented.api_key,
    )
    since = len(documented.requests)
    show_warnings(lambda: model.invoke("Say hello"))
    print(f"requests carried: {sent(documented, since, names)} (seed was never offered)")


if __name__ == "__main__":
    main()
