"""vcrpy / pytest-recording settings for recording Lunos calls once and replaying them.

Why a helper: a cassette recorded with vcrpy's defaults keeps the ``Authorization``
header (the key), the ``X-App-ID`` label and anything a proxy echoed back, and matches on
the whole URI, so a cassette recorded against ``http://127.0.0.1:<port>`` (or a staging
host) never matches again. :func:`vcr_config` returns keyword arguments for ``vcr.VCR``
(and the ``vcr_config`` fixture of pytest-recording / langchain-tests) that:

* replace ``Authorization``, ``X-Api-Key``, ``X-App-ID`` and ``Proxy-Authorization`` in
  requests with ``REDACTED``, and drop ``Set-Cookie`` from responses;
* scrub the key (and any ``Bearer ...`` token) from recorded response bodies, where
  gateways and proxies sometimes echo request headers;
* match on method, path and body (not host, port or query order), so replay works
  whatever ``base_url`` the test builds its model with;
* store bodies decompressed, so a cassette is readable and streamed replies (SSE) replay
  byte for byte: the transport reads a replayed body exactly as a live one.

Standard library only, like the rest of :mod:`lunos_integrations.testing`: nothing here
imports vcrpy; the returned dict is handed to it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["REDACTED", "SECRET_HEADERS", "scrub_body", "vcr_config"]

REDACTED = "REDACTED"
#: Request headers replaced with :data:`REDACTED` in cassettes.
SECRET_HEADERS = ("authorization", "x-api-key", "x-app-id", "proxy-authorization", "cookie")
_BEARER = re.compile(rb"Bearer\s+[A-Za-z0-9._~+/=-]+")


def scrub_body(body: bytes, secrets: Iterable[str]) -> bytes:
    """``body`` with every secret and bearer token replaced by :data:`REDACTED`."""
    out = _BEARER.sub(b"Bearer " + REDACTED.encode(), body)
    for secret in secrets:
        if secret:
            out = out.replace(secret.encode(), REDACTED.encode())
    return out


def _before_record_response(secrets: tuple[str, ...]) -> Callable[[Any], Any]:
    def scrub(response: Any) -> Any:
        headers = response.get("headers") or {}
        for name in list(headers):
            if name.lower() in ("set-cookie", "authorization"):
                del headers[name]
        body = response.get("body") or {}
        content = body.get("string")
        if isinstance(content, str):
            content = content.encode()
        if isinstance(content, (bytes, bytearray)):
            body["string"] = scrub_body(bytes(content), secrets)
        return response

    return scrub


def vcr_config(
    *, secrets: Iterable[str] = (), record_mode: str = "once", **overrides: Any
) -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR`` / pytest-recording's ``vcr_config`` fixture.

    ``secrets`` are scrubbed from response bodies besides ``LUNOS_API_KEY`` (read now).
    ``record_mode="once"`` records a cassette that does not exist yet and only replays one
    that does; CI should pass ``--record-mode=none`` so a missing cassette fails instead
    of calling out. ``overrides`` replace or add keys, e.g. ``allow_playback_repeats=True``
    for pytest-recording when one test replays a call many times (``vcr.VCR`` itself takes
    that one per ``use_cassette`` call instead).
    """
    known = tuple(s for s in (*secrets, os.environ.get("LUNOS_API_KEY", "")) if s)
    config: dict[str, Any] = {
        "record_mode": record_mode,
        "filter_headers": [(name, REDACTED) for name in SECRET_HEADERS],
        "match_on": ["method", "path", "body"],
        "decode_compressed_response": True,
        "before_record_response": _before_record_response(known),
    }
    config.update(overrides)
    return config
