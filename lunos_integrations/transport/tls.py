"""TLS contexts for the package's own pools, one per distinct :class:`TLSSettings`.

Why a cache at all: httpx builds a new context per client by default, loading the whole CA
bundle each time (~25 ms); an event loop's async pool is eight clients. Why keyed by the
settings, not one per process: the settings are read when a model is configured, so a CA
bundle set after a first failed call reaches the next model (see ``config.TLSSettings``).

The cache is process-wide state, so a forked child starts with an empty one (OpenSSL locks
may have been held mid-handshake by a parent thread); ``pools.py`` calls :meth:`reset`.
"""

from __future__ import annotations

import ssl
import threading

import httpx

from ..config import LunosConfig, TLSSettings
from ..errors import LunosConfigError

#: At most this many distinct settings keep a context (a process rarely has more than two).
_MAX_CONTEXTS = 16


def build_context(settings: TLSSettings) -> ssl.SSLContext:
    """A client context verifying against what ``settings`` name."""
    if settings.use_truststore:
        try:
            import truststore
        except ImportError:
            raise LunosConfigError(
                "use_truststore=True (or LUNOS_USE_TRUSTSTORE) needs the truststore package: "
                "pip install truststore (Python 3.10+)."
            ) from None
        ctx: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if settings.ca_file or settings.ca_dir:
            ctx.load_verify_locations(cafile=settings.ca_file, capath=settings.ca_dir)
        return ctx
    if settings.ca_file or settings.ca_dir:
        try:
            return ssl.create_default_context(cafile=settings.ca_file, capath=settings.ca_dir)
        except (OSError, ssl.SSLError) as exc:
            where = settings.ca_file or settings.ca_dir
            raise LunosConfigError(
                f"The CA bundle {where!r} could not be loaded ({exc}); it must be PEM "
                "certificates (SSL_CERT_FILE, SSL_CERT_DIR or ca_bundle)."
            ) from None
    return httpx.create_ssl_context(trust_env=False)  # certifi's bundle


def describe(config: LunosConfig) -> str:
    """What certificates were checked against, for error messages (paths, never secrets)."""
    s = config.tls
    where = []
    if s.use_truststore:
        where.append("the operating system's trust store (truststore)")
    if s.ca_file:
        where.append(f"the CA file {s.ca_file}")
    if s.ca_dir:
        where.append(f"the CA directory {s.ca_dir}")
    if not where:
        where.append("certifi's CA bundle (no SSL_CERT_FILE, SSL_CERT_DIR or ca_bundle set)")
    return " and ".join(where)


class ContextCache:
    """Contexts by settings; thread-safe, bounded, emptied in a forked child."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contexts: dict[TLSSettings, ssl.SSLContext] = {}

    def get(self, settings: TLSSettings) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get(settings)
            if ctx is None:
                ctx = build_context(settings)
                if len(self._contexts) >= _MAX_CONTEXTS:
                    self._contexts.pop(next(iter(self._contexts)))
                self._contexts[settings] = ctx
            return ctx

    def reset(self) -> None:
        """Forget every context and the lock (called in a forked child only)."""
        self._lock = threading.Lock()
        self._contexts = {}


CONTEXTS = ContextCache()
