"""Transport failures told apart: which ones a retry can fix, and what to say about the rest.

Why a module of its own: "could not reach the server, check the network" was said for
everything below HTTP, and every one of them was retried. Three cases are different:

* **A certificate the client does not trust** (a corporate proxy re-signing TLS, a private
  CA) fails the same way on every attempt; retrying only multiplies the wait. It is raised
  at once as :class:`TLSVerificationError`, naming the trust settings that were used and the
  ones that change them.
* **A proxy that answers 407** wants credentials; they will not appear on a retry. Raised
  at once as :class:`ProxyAuthenticationError`, with the proxy shown without its password.
* **A pooled connection the server had already closed** (keep-alive expiry racing a new
  request) is not a failure of the request at all: it never reached the server. It is
  retried once on a fresh connection, whatever ``max_retries`` is, so ``max_retries=0``
  does not turn a routine race into an error.

And a reply cut after its status line is reported as what it is (the server answered; the
body was cut after N bytes) instead of as an unreachable host.
"""

from __future__ import annotations

import ssl

from ..config import LunosConfig
from ..errors import (
    APIConnectionError,
    IncompleteResponseError,
    ProxyAuthenticationError,
    TLSVerificationError,
)
from ..redact import redact_url
from . import tls
from .bodies import BodyReader
from .deadline import Budget
from .http_lib import NETWORK_ERRORS, PROXY_ERRORS, REMOTE_PROTOCOL_ERRORS, TIMEOUT_ERRORS

_CERT_MARKERS = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes/contexts (httpx wraps httpcore, which wraps ``ssl``)."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 8:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def certificate_failure(exc: BaseException) -> str | None:
    """The verification failure's reason when ``exc`` is a certificate failure, else None."""
    for link in _chain(exc):
        if isinstance(link, ssl.SSLCertVerificationError):
            return str(link.verify_message or link.reason or link)
        text = str(link)
        if any(marker in text for marker in _CERT_MARKERS):
            return text
    return None


def proxy_refused(exc: BaseException) -> bool:
    """Whether ``exc`` is a proxy's 407 answer to our CONNECT."""
    return isinstance(exc, PROXY_ERRORS) and "407" in str(exc)


def proxy_auth_error(proxy: str | None, url: str, how: str) -> ProxyAuthenticationError:
    shown = redact_url(proxy) if proxy else "the proxy from the environment (HTTPS_PROXY)"
    return ProxyAuthenticationError(
        f"The proxy {shown} refused the request to {url} with 407 Proxy Authentication "
        f"Required ({how}); not retried, as the same credentials would be refused again. "
        "Put the proxy's user and password in the proxy URL (http://user:password@host:port, "
        "percent-encoded) or fix the ones it carries.",
        url=url,
    )


def final_error(
    exc: BaseException, url: str, proxy: str | None, trust: str
) -> APIConnectionError | None:
    """The typed error for a send failure that no retry can fix; ``None`` when one might.

    ``trust`` says what the certificate was checked against (see ``tls.describe``).
    """
    reason = certificate_failure(exc)
    if reason is not None:
        return TLSVerificationError(
            f"The TLS certificate of {url} was not trusted ({reason}); checked against "
            f"{trust}. Not retried: the same certificate fails the same way. If a corporate "
            "proxy or a private CA signs it, point SSL_CERT_FILE (or SSL_CERT_DIR, or "
            "LUNOS_CA_BUNDLE) at a CA bundle that holds that CA, or set LUNOS_USE_TRUSTSTORE=1 "
            "to use the operating system's trust store (ChatLunos, LunosLLM and LunosClient "
            "also take ca_bundle= / use_truststore=); models configured after the change use "
            "it.",
            url=url,
        )
    if proxy_refused(exc):
        return proxy_auth_error(proxy, url, "to the CONNECT tunnel")
    return None


def is_stale(exc: BaseException, budget: Budget) -> bool:
    """Whether ``exc`` came from a pooled connection the peer had already closed.

    The trace hooks record whether this attempt wrote its request on a connection it did
    not open itself; such a connection failing before any response byte (a reset, a
    "server disconnected without sending a response") means it was dead when taken from
    the pool. Timeouts are not staleness: the server may be working on the request.
    """
    if not budget.sent or budget.opened or isinstance(exc, TIMEOUT_ERRORS):
        return False
    return isinstance(exc, REMOTE_PROTOCOL_ERRORS + NETWORK_ERRORS)


def fresh_attempt(budget: Budget) -> Budget:
    """Forget what the previous attempt's trace recorded (see :func:`is_stale`)."""
    budget.opened = budget.sent = False
    return budget


def is_cut(exc: BaseException) -> bool:
    """Whether a body read ended because the connection did (not a timeout or decoding)."""
    return isinstance(exc, REMOTE_PROTOCOL_ERRORS + NETWORK_ERRORS) and not isinstance(
        exc, TIMEOUT_ERRORS
    )


def cut_retryable(method: str, received: int) -> bool:
    """A cut non-streamed reply is retried when nothing of its body had arrived, or the
    method is a read (GET): either way the caller was handed nothing, and a POST whose
    body had started may have produced an answer (and a charge) we only saw part of."""
    return method == "GET" or received == 0


def cut_error(
    exc: BaseException, route: str, url: str, status: int, received: int, attempts: int
) -> IncompleteResponseError:
    tried = f" ({attempts} attempts)" if attempts > 1 else ""
    return IncompleteResponseError(
        f"The server answered {status} to {route} but the body was cut after {received:,} "
        f"bytes{tried} ({type(exc).__name__}: {exc}). The server was reached: a proxy or "
        "load balancer closing long replies, or the server restarting, is the usual cause.",
        url=url,
        received=received,
    )


def send_failed(exc: Exception, budget: Budget, url: str, config: LunosConfig) -> bool:
    """The transport's hook for a failed send: raise at once what no retry fixes; ``True``
    to resend a request that met a stale pooled connection (once per call, not counted as
    an attempt: it never reached the server); ``False`` for the usual retry policy."""
    final = final_error(exc, url, config.proxy, tls.describe(config))
    if final is not None:
        raise final from exc
    if not budget.stale_retried and is_stale(exc, budget):
        budget.stale_retried = True
        return True
    return False


def resend_cut(exc: Exception, method: str, reader: BodyReader, cuts: int, retries: int) -> bool:
    """Whether a non-streamed body cut by the connection is sent again (``cuts`` so far)."""
    reader.attempt = cuts + 1
    return cuts < retries and is_cut(exc) and cut_retryable(method, len(reader.buffer))
