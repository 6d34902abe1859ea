"""The loops of a streamed chat call, on the sync and async paths.

They are :meth:`LunosClient.stream_chat`'s and :meth:`~LunosClient.astream_chat`'s bodies,
kept in a module of their own so that each stays readable beside its twin: the route, the
learned-parameter resend and the ``fallback_model`` hop are the same decisions as for a
whole reply (the client's), while what is streamed-only lives here and in
:class:`~.stream_session.StreamSession` (usage reported once, the pricing hold, refusing
to call a stream complete when it never said why it stopped).

``client`` is passed in, not imported: this module sits below the client in the layers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING

from .errors import APIStatusError
from .observe import Observation
from .wire.types import ChatDelta, ChatRequest

if TYPE_CHECKING:
    from .client import Api, LunosClient

__all__ = ["arun_stream", "run_stream"]


def run_stream(
    client: LunosClient,
    request: ChatRequest,
    api: Api,
    headers: Mapping[str, str] | None,
    observation: Observation,
) -> Iterator[ChatDelta]:
    """Yield the deltas of one streamed call; see :meth:`LunosClient.stream_chat`."""
    path, base = client._route(api)
    request, body = client._prepare(request, api)
    while True:
        session = client._stream_session(request, api)
        events = client.transport.stream(
            path,
            body,
            kind="messages" if api == "messages" else "chat",
            headers=client._headers(base, headers),
            observation=observation,
        )
        try:
            for event in events:
                delta = session.on_event(event)
                if delta is not None:
                    for out in client._priced(request.model, session.admit(delta)):
                        observation.on_delta(out)
                        yield out
            client._warm()()  # the stream is over: the catalog may be fetched now
            for out in client._priced(request.model, session.release()):
                observation.on_delta(out)
                yield out
            session.check_complete()
            observation.on_result(request.model, session.usage, None)
            return
        except APIStatusError as exc:
            if session.started:
                raise
            sent, resend = client.recover(request, body, api, exc, observation)
            if resend is not None:
                request, body = sent, resend
                continue
            yield from run_stream(client, sent, api, headers, observation)
            return
        finally:
            try:
                events.close()  # type: ignore[attr-defined]
            finally:
                session.report()


async def arun_stream(
    client: LunosClient,
    request: ChatRequest,
    api: Api,
    headers: Mapping[str, str] | None,
    observation: Observation,
) -> AsyncIterator[ChatDelta]:
    """Async :func:`run_stream`."""
    path, base = client._route(api)
    request, body = await client._aprepare(request, api)
    while True:
        session = client._stream_session(request, api)
        events = client.transport.astream(
            path,
            body,
            kind="messages" if api == "messages" else "chat",
            headers=client._headers(base, headers),
            observation=observation,
        )
        try:
            async for event in events:
                delta = session.on_event(event)
                if delta is not None:
                    for out in await client._apriced(request.model, session.admit(delta)):
                        observation.on_delta(out)
                        yield out
            (await client._awarm())()  # the stream is over: fetch the catalog now
            for out in await client._apriced(request.model, session.release()):
                observation.on_delta(out)
                yield out
            session.check_complete()
            observation.on_result(request.model, session.usage, None)
            return
        except APIStatusError as exc:
            if session.started:
                raise
            sent, resend = client.recover(request, body, api, exc, observation)
            if resend is not None:
                request, body = sent, resend
                continue
            async for delta in arun_stream(client, sent, api, headers, observation):
                yield delta
            return
        finally:
            try:
                await events.aclose()  # type: ignore[attr-defined]
            finally:
                session.report()
