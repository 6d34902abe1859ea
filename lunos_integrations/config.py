"""Client configuration: one immutable object resolved once from arguments and environment.

Resolution happens at construction so that a missing key or a malformed base URL fails
immediately with a message naming the argument *and* the environment variable, instead of
on the first request deep inside a chain.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from .errors import LunosConfigError, LunosInputError
from .redact import MASK, redact_url, split_userinfo

DEFAULT_BASE_URL = "https://api.lunos.tech/v1"
#: Seconds. Bounds each attempt as a whole (and the silence between two stream events that
#: carry progress). Long, as openai-python's: a reasoning model may think for minutes before
#: the first byte of a non-streamed answer.
DEFAULT_TIMEOUT = 600.0
#: Decompressed bytes one response (or one whole stream) may hold. The largest legitimate
#: reply is a full embeddings batch: 2,048 inputs x 3,072 floats = 6,291,456 numbers, each at
#: most ~30 bytes as JSON (a 17-digit float, sign, comma, newline and indentation when the
#: body is pretty-printed) = ~189 MB; 256 MiB leaves room above that.
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_RETRIES = 2
#: Never wait longer than this between two attempts, whatever Retry-After says.
DEFAULT_MAX_RETRY_WAIT = 30.0
#: First backoff step in seconds; doubles each attempt (with jitter).
DEFAULT_RETRY_BACKOFF = 0.5
DEFAULT_MAX_CONNECTIONS = 1000

API_KEY_ENV = "LUNOS_API_KEY"
BASE_URL_ENV = "LUNOS_BASE_URL"
APP_ID_ENV = "LUNOS_APP_ID"

TimeoutTypes = float | int | httpx.Timeout | None
TRUSTSTORE_ENV = "LUNOS_USE_TRUSTSTORE"
HTTP_STACK_ENV = "LUNOS_HTTP_STACK"
HTTP_STACKS = ("auto", "httpx", "httpx2")
CA_BUNDLE_ENV = "LUNOS_CA_BUNDLE"


@dataclass(frozen=True, slots=True)
class TLSSettings:
    """What server certificates are checked against, read when a model is configured.

    Why not once per process: a user who fixes ``SSL_CERT_FILE`` in a notebook after a
    failed call expects the next model to use it. These settings are part of the pool key,
    so a change gives new models a new pool (and TLS context); models made before keep
    theirs. ``ca_file`` / ``ca_dir`` come from ``ca_bundle=`` (or ``LUNOS_CA_BUNDLE``), else
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``; with neither, certifi's bundle (httpx's default).
    ``use_truststore`` verifies against the operating system's store (the ``truststore``
    package), where corporate CAs are usually installed; any CA file is added to it.
    """

    ca_file: str | None = None
    ca_dir: str | None = None
    use_truststore: bool = False

    @classmethod
    def resolve(
        cls, ca_bundle: str | None = None, use_truststore: bool | None = None
    ) -> TLSSettings:
        env = os.environ
        bundle = ca_bundle or env.get(CA_BUNDLE_ENV) or None
        if bundle is not None:
            if os.path.isdir(bundle):
                return cls(None, bundle, _truststore(use_truststore))
            if not os.path.isfile(bundle):
                raise LunosConfigError(
                    f"ca_bundle {bundle!r} (argument or {CA_BUNDLE_ENV}) is neither a file nor "
                    "a directory: point it at a PEM CA bundle or a c_rehash'ed directory."
                )
            return cls(bundle, None, _truststore(use_truststore))
        # As httpx reads them: a path that does not exist is ignored.
        file = env.get("SSL_CERT_FILE") or None
        folder = env.get("SSL_CERT_DIR") or None
        return cls(
            file if file and os.path.isfile(file) else None,
            folder if folder and os.path.isdir(folder) else None,
            _truststore(use_truststore),
        )


def http_stack_setting(value: str | None) -> str:
    """The pools' HTTP library: the argument, else ``LUNOS_HTTP_STACK``, else ``"auto"``:
    httpx2 when it is importable (measured faster, benchmarks/http_stacks.py), else httpx."""
    chosen = (value or os.environ.get(HTTP_STACK_ENV) or "auto").strip().lower()
    if chosen not in HTTP_STACKS:
        raise LunosConfigError(
            f"http_stack must be one of {HTTP_STACKS} (argument or {HTTP_STACK_ENV}), "
            f"got {chosen!r}"
        )
    if chosen == "auto":
        return "httpx2" if _httpx2_installed() else "httpx"
    return chosen


@functools.cache
def _httpx2_installed() -> bool:
    """Whether httpx2 can be imported (a fact of the installation: looked up once)."""
    return importlib.util.find_spec("httpx2") is not None


def _truststore(value: bool | None) -> bool:
    if value is not None:
        return bool(value)
    return os.environ.get(TRUSTSTORE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _timeout_key(timeout: httpx.Timeout) -> tuple[float | None, ...]:
    return (timeout.connect, timeout.read, timeout.write, timeout.pool)


@dataclass(frozen=True, slots=True)
class LunosConfig:
    """Everything that decides how requests are sent. Hashable, so clients can be shared.

    The API key is a :class:`~pydantic.SecretStr`: its ``repr`` and ``str`` are masked, so
    logging or printing a config never reveals it.
    """

    api_key: SecretStr = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    app_id: str | None = None
    default_headers: tuple[tuple[str, str], ...] = ()
    timeout: httpx.Timeout = field(default_factory=lambda: httpx.Timeout(DEFAULT_TIMEOUT))
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    retry_backoff: float = DEFAULT_RETRY_BACKOFF
    proxy: str | None = None
    #: Longest time a stream may go without a progress event (content, tool-call part,
    #: reasoning, usage, finish); keep-alive comments and empty events do not count.
    #: Defaults to the whole-attempt timeout (the largest value of ``timeout``).
    stream_idle_timeout: float | None = None
    #: Upper bound of open connections per pool (the OpenAI SDK uses the same default); at
    #: most 100 idle ones are kept alive.
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    #: Refuse a response (JSON body or whole stream) larger than this once decompressed.
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    #: Certificate trust for the package's own pools (see :class:`TLSSettings`).
    tls: TLSSettings = field(default_factory=TLSSettings.resolve)
    #: What the package's own pools run on: ``"httpx2"`` when it is installed, else
    #: ``"httpx"`` (``LUNOS_HTTP_STACK`` / ``http_stack`` pick one; see the README for the
    #: measurements behind the default). Injected clients are used whatever this says.
    http_stack: str = field(default_factory=lambda: http_stack_setting(None))
    #: Send every attempt through the key's shared rate governor (``transport.governor``):
    #: Retry-After for every caller, learned rate and concurrency, retry budget. ``False``
    #: sends as the transport did without it (each call retries on its own).
    rate_governor: bool = True
    #: Declared limits of the key, when known (e.g. a LiteLLM key's rpm / tpm): the governor
    #: paces to them before the first refusal. Tokens are estimated from the request.
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    def __post_init__(self) -> None:
        # Also for configs built directly (or via dataclasses.replace), not only through
        # resolve_config: a bad key must never reach an HTTP header, whose error would
        # quote it.
        key = self.api_key.get_secret_value()
        checked = check_api_key(key)
        if checked != key:
            object.__setattr__(self, "api_key", SecretStr(checked))

    def __repr__(self) -> str:
        # Written out (not the dataclass one) so that URL credentials are masked.
        return (
            f"LunosConfig(base_url={redact_url(self.base_url)!r}, app_id={self.app_id!r}, "
            f"default_headers={self.default_headers!r}, timeout={self.timeout!r}, "
            f"max_retries={self.max_retries!r}, max_retry_wait={self.max_retry_wait!r}, "
            f"retry_backoff={self.retry_backoff!r}, "
            f"proxy={redact_url(self.proxy) if self.proxy else None!r}, "
            f"stream_idle_timeout={self.stream_idle_timeout!r}, "
            f"max_connections={self.max_connections!r}, rate_governor={self.rate_governor!r}, "
            f"requests_per_minute={self.requests_per_minute!r}, "
            f"tokens_per_minute={self.tokens_per_minute!r})"
        )

    def __hash__(self) -> int:
        return hash(
            (
                self.api_key.get_secret_value(),
                self.base_url,
                self.app_id,
                self.default_headers,
                _timeout_key(self.timeout),
                self.max_retries,
                self.max_retry_wait,
                self.retry_backoff,
                self.proxy,
                self.stream_idle_timeout,
                self.max_connections,
                self.max_response_bytes,
                self.tls,
                self.http_stack,
                self.rate_governor,
                self.requests_per_minute,
                self.tokens_per_minute,
            )
        )

    def pool_key(self) -> tuple[Any, ...]:
        """What decides whether two configurations can share one connection pool.

        Authentication and headers are added per request, so only socket-level settings
        matter: every model with the same proxy, timeouts and limits shares one pool.
        """
        return (
            self.proxy,
            _timeout_key(self.timeout),
            self.max_connections,
            self.tls,
            self.http_stack,
        )

    @property
    def idle_timeout(self) -> float | None:
        return (
            self.stream_idle_timeout if self.stream_idle_timeout is not None else self.timeout.read
        )


def normalize_base_url(url: str) -> str:
    """Validate and normalise a base URL: only http(s), no trailing slash."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LunosConfigError(
            f"base_url must be an http:// or https:// URL such as {DEFAULT_BASE_URL!r}, "
            f"got {redact_url(url)!r} (argument base_url or environment variable {BASE_URL_ENV})"
        )
    if split_userinfo(text)[2] == MASK:
        # What every repr and serialized form shows instead of the password: sending it
        # would fail authentication with a confusing 401 far from the cause.
        raise LunosConfigError(
            f"base_url {text!r} carries the masked password {MASK!r} that reprs and "
            "serialized models show in place of the real one; pass the URL with its real "
            f"credentials (argument base_url or environment variable {BASE_URL_ENV})."
        )
    return text.rstrip("/")


def coerce_timeout(timeout: TimeoutTypes) -> httpx.Timeout:
    """Accept seconds or an ``httpx.Timeout``; ``None`` means the default, not "no timeout"."""
    if timeout is None:
        return httpx.Timeout(DEFAULT_TIMEOUT)
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise LunosConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return httpx.Timeout(float(timeout))


def check_api_key(value: str) -> str:
    """The key with surrounding whitespace removed; a typed error if anything else is off.

    Why here: an HTTP header cannot carry control or non-ASCII characters, and the errors
    the HTTP stack raises for them quote the whole header (``Illegal header value
    b'Bearer sk-...'``) or escape deep inside it (``UnicodeEncodeError``). A trailing
    newline is the usual result of reading a key from a file, so surrounding whitespace is
    dropped silently; anything left is reported by position only, never by value.
    """
    stripped = value.strip()
    for index, char in enumerate(stripped):
        code = ord(char)
        if 0x20 <= code <= 0x7E:
            continue
        kind = "a control character" if code < 0x20 or code == 0x7F else "a non-ASCII character"
        # The character is named by code point only when it cannot be part of any real
        # key (it is invalid by definition here), so nothing of the key itself is shown.
        name = unicodedata.name(char, "") if code > 0x7F else ""
        what = f"U+{code:04X}" + (f" {name}" if name else "")
        raise LunosInputError(
            f"api_key contains {kind} ({what}) at position {index + 1} of "
            f"{len(stripped)} (counted after stripping surrounding whitespace). Lunos keys "
            "are printable ASCII: copy the key again from the dashboard, or check how it "
            f"is read (argument api_key or environment variable {API_KEY_ENV}).",
            param="api_key",
        )
    return stripped


def resolve_api_key(api_key: str | SecretStr | None) -> SecretStr:
    """The key from the argument, else ``LUNOS_API_KEY``; a clear error when neither is set
    (or when it holds characters no HTTP header can carry, see :func:`check_api_key`)."""
    if isinstance(api_key, SecretStr):
        value = api_key.get_secret_value()
    else:
        value = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
    if not isinstance(value, str):
        raise LunosInputError(
            f"api_key must be a string or pydantic.SecretStr, got {type(value).__name__}",
            param="api_key",
        )
    value = check_api_key(value)
    if not value:
        raise LunosConfigError(
            f"No Lunos API key: pass api_key=... or set the {API_KEY_ENV} environment variable "
            "(for offline tests, use lunos_integrations.testing.LocalLunosServer)."
        )
    return SecretStr(value)


def base_url_setting(base_url: str | None) -> str:
    """The base URL an adapter shows: the argument, else ``LUNOS_BASE_URL``, else the public API.

    Adapters resolve it at construction, as LangChain's own models do (``ChatOpenAI``'s
    ``openai_api_base``), so the object shows, and serializes, where its requests go.
    Validation stays in :func:`normalize_base_url`.
    """
    return base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL


def app_id_setting(app_id: str | None) -> str | None:
    """The app label an adapter shows: the argument, else ``LUNOS_APP_ID``, else none."""
    return app_id if app_id is not None else os.environ.get(APP_ID_ENV) or None


def resolve_config(
    *,
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    app_id: str | None = None,
    default_headers: Mapping[str, str] | None = None,
    timeout: TimeoutTypes = None,
    max_retries: int | None = None,
    proxy: str | None = None,
    stream_idle_timeout: float | None = None,
    max_retry_wait: float | None = None,
    retry_backoff: float | None = None,
    max_connections: int | None = None,
    max_response_bytes: int | None = None,
    ca_bundle: str | None = None,
    use_truststore: bool | None = None,
    http_stack: str | None = None,
    rate_governor: bool | None = None,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
) -> LunosConfig:
    """Build a :class:`LunosConfig` from arguments, falling back to environment variables."""
    if rate_governor is not None and not isinstance(rate_governor, bool):
        raise LunosConfigError(f"rate_governor must be True or False, got {rate_governor!r}")
    for name, limit in (
        ("requests_per_minute", requests_per_minute),
        ("tokens_per_minute", tokens_per_minute),
    ):
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0
        ):
            raise LunosConfigError(
                f"{name} must be a positive number (the key's declared limit), got {limit!r}; "
                "leave it unset to let the rate governor learn the limit"
            )
    retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise LunosConfigError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    if max_connections is not None and (
        isinstance(max_connections, bool)
        or not isinstance(max_connections, int)
        or max_connections < 1
    ):
        raise LunosConfigError(f"max_connections must be an integer >= 1, got {max_connections!r}")
    if max_response_bytes is not None and (
        isinstance(max_response_bytes, bool)
        or not isinstance(max_response_bytes, int)
        or max_response_bytes < 1
    ):
        raise LunosConfigError(
            f"max_response_bytes must be an integer >= 1, got {max_response_bytes!r}"
        )
    if stream_idle_timeout is not None and stream_idle_timeout <= 0:
        raise LunosConfigError(
            f"stream_idle_timeout must be a positive number of seconds, got {stream_idle_timeout!r}"
        )
    app = app_id_setting(app_id)
    headers = tuple(sorted((str(k), str(v)) for k, v in (default_headers or {}).items()))
    for name, _ in headers:
        if name.lower() in ("authorization", "x-api-key"):
            raise LunosConfigError(
                "default_headers must not carry credentials; pass api_key=... instead "
                "so the key stays secret"
            )
    return LunosConfig(
        api_key=resolve_api_key(api_key),
        base_url=normalize_base_url(base_url_setting(base_url)),
        app_id=app,
        default_headers=headers,
        timeout=coerce_timeout(timeout),
        max_retries=retries,
        max_retry_wait=DEFAULT_MAX_RETRY_WAIT if max_retry_wait is None else max_retry_wait,
        retry_backoff=DEFAULT_RETRY_BACKOFF if retry_backoff is None else retry_backoff,
        proxy=proxy,
        stream_idle_timeout=stream_idle_timeout,
        max_connections=DEFAULT_MAX_CONNECTIONS if max_connections is None else max_connections,
        max_response_bytes=(
            DEFAULT_MAX_RESPONSE_BYTES if max_response_bytes is None else max_response_bytes
        ),
        tls=TLSSettings.resolve(ca_bundle, use_truststore),
        http_stack=http_stack_setting(http_stack),
        rate_governor=True if rate_governor is None else rate_governor,
        requests_per_minute=None if requests_per_minute is None else float(requests_per_minute),
        tokens_per_minute=None if tokens_per_minute is None else float(tokens_per_minute),
    )
