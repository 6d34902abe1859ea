"""What the core client needs from the model catalog, stated as an interface.

Why an interface: :class:`~lunos_integrations.client.LunosClient` must not import the
catalog (which imports the client to fetch ``GET /models``), and a reader of a client
should see what it consults besides the server. So the client is *handed* an object with
these methods at construction — by default the shared catalog of its base URL, wired up by
the adapters (:func:`lunos_integrations.catalog.shared_catalog`) — and calls nothing else.

Contract (the client relies on it):

* nothing here may delay a request: :meth:`warm` / :meth:`awarm` only *start* a fetch,
  and return a callable the client calls once its reply has begun (the fetch may wait for
  it, briefly, so that the prompt is the first request on the wire). Streams call
  :meth:`warm` only once they are over, so no fetch runs beside a stream;
* :meth:`price` / :meth:`aprice` run after the reply, wait at most a short bound for a
  fetch in flight, return ``None`` when the price is unknown and never raise;
* :meth:`prefilter` / :meth:`aprefilter` are used only with ``gate_parameters="catalog"``
  (the opt-in pre-filter) and may wait for the catalog;
* :attr:`parameters` is the learned-parameter memory shared by the catalog's clients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .parameters import ParameterMemory
from .wire.types import ChatRequest, Usage

__all__ = ["ModelFacts"]


@runtime_checkable
class ModelFacts(Protocol):
    """Catalog services for one base URL, as the core client uses them."""

    parameters: ParameterMemory

    def warm(self, client: Any) -> Callable[[], None]:
        """Start fetching the catalog in the background if it is not fresh; never blocks.

        Returns the "reply has begun" signal.
        """

    async def awarm(self, client: Any) -> Callable[[], None]:
        """Async :meth:`warm`: schedules a task on the running loop, never awaits it."""

    def price(self, client: Any, model: str, usage: Usage) -> float | None:
        """USD cost of ``usage`` for ``model``, or ``None``; bounded wait, never raises."""

    async def aprice(self, client: Any, model: str, usage: Usage) -> float | None:
        """Async :meth:`price`."""

    def prefilter(self, client: Any, request: ChatRequest, api: str) -> ChatRequest:
        """``request`` without parameters the catalog does not list (``"catalog"`` mode)."""

    async def aprefilter(self, client: Any, request: ChatRequest, api: str) -> ChatRequest:
        """Async :meth:`prefilter`."""
