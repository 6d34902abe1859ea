"""Keeping secrets out of everything the package prints: URL credentials and echoed keys.

Two kinds of secret can end up in text we produce without anyone meaning to print them:

* credentials written into a URL (``http://user:pass@gateway/v1``, usual for self-hosted
  proxies): every repr, message, log line and tracing field that shows a base URL shows it
  through :func:`redact_url`;
* the API key (or any ``Bearer`` token or ``x-api-key`` value) *echoed back by
  a server*: proxies' debug pages and some error bodies repeat the request headers they
  received, and error messages quote server text. :func:`scrub_text` / :func:`scrub_json`
  remove them before that text is stored in an exception.

Everything here is pure (standard library only), so the error module at the bottom of the
package can use it, and there is exactly one implementation of each rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote

__all__ = [
    "MASK",
    "Secrets",
    "has_userinfo",
    "redact_url",
    "scrub_json",
    "scrub_text",
    "split_userinfo",
]

#: What a removed secret is replaced with.
MASK = "***"

#: A secret shorter than this is not replaced verbatim: replacing every occurrence of two
#: or three characters would mangle the message while protecting nothing worth the name.
_MIN_SECRET = 4

# ``Bearer <token>`` (RFC 6750 token characters), any case. ``Basic`` is not matched
# generically ("Basic plan users ..." is ordinary prose); the configured Basic credentials
# are among the literal secrets instead.
_SCHEME_TOKEN = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/]+=*")
# ``x-api-key: <value>``, ``"x-api-key": "<value>"``, ``api_key=<value>`` and the like.
_KEY_FIELD = re.compile(r"(?i)\b((?:x[-_])?api[-_]?key)([\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}\]<>]+")


def _netloc_bounds(url: str) -> tuple[int, int]:
    """Start and end of the authority part of ``url`` (tolerates a missing scheme)."""
    sep = url.find("://")
    start = sep + 3 if sep >= 0 else 0
    end = len(url)
    for ch in "/?#":
        i = url.find(ch, start)
        if 0 <= i < end:
            end = i
    return start, end


def has_userinfo(url: str | None) -> bool:
    """Whether ``url`` carries ``user[:password]@`` credentials."""
    if not url:
        return False
    start, end = _netloc_bounds(url)
    return "@" in url[start:end]


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (``http://user:***@host/v1``).

    A user name without a password is often a token itself, so it is masked whole
    (``http://***@host``). URLs without credentials come back unchanged; malformed ones
    (no scheme, several ``@``) are handled the way HTTP clients split them, at the last
    ``@`` of the authority.
    """
    start, end = _netloc_bounds(url)
    userinfo, at, host = url[start:end].rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:{MASK}" if colon else MASK
    return f"{url[:start]}{shown}@{host}{url[end:]}"


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``(url without credentials, user name, password)``, both percent-decoded.

    ``None`` for what the URL does not carry (a user name without ``:`` has no password).
    """
    start, end = _netloc_bounds(url)
    userinfo, at, host = url[start:end].rpartition("@")
    if not at:
        return url, None, None
    user, colon, password = userinfo.partition(":")
    clean = f"{url[:start]}{host}{url[end:]}"
    return clean, unquote(user), unquote(password) if colon else None


class Secrets:
    """The literal secrets to remove from server text, in every form they may be echoed.

    Built once per transport (the key, and any URL password); ``scrub`` then replaces them,
    and every ``Bearer`` token and ``x-api-key`` value, with :data:`MASK`.
    """

    __slots__ = ("_forms",)

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for value in values:
            if not value or len(value) < _MIN_SECRET:
                continue
            forms.add(value)
            forms.add(json.dumps(value)[1:-1])  # as it appears inside a JSON string
            forms.add(quote(value, safe=""))  # as it appears in a URL or form body
        # Longest first, so a secret that contains another is replaced whole.
        self._forms = tuple(sorted(forms, key=len, reverse=True))

    def __repr__(self) -> str:
        return f"Secrets(<{len(self._forms)} withheld>)"

    def __bool__(self) -> bool:
        return bool(self._forms)

    def scrub(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        text = _SCHEME_TOKEN.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
        return _KEY_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


NO_SECRETS = Secrets()


def scrub_text(text: str, secrets: Secrets = NO_SECRETS) -> str:
    """``text`` with every secret, bearer token and api-key value replaced by ``***``."""
    return secrets.scrub(text)


def scrub_json(value: Any, secrets: Secrets = NO_SECRETS) -> Any:
    """A copy of a decoded JSON value with :func:`scrub_text` applied to every string.

    Keys are scrubbed too (a proxy may echo headers as an object). Iterative, so a body
    nested as deep as the JSON parser allowed cannot overflow the stack here.
    """
    if isinstance(value, str):
        return secrets.scrub(value)
    if not isinstance(value, (dict, list)):
        return value
    root: dict[Any, Any] | list[Any] = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        src, dst = stack.pop()
        pairs = src.items() if isinstance(src, dict) else enumerate(src)
        for key, item in pairs:
            if isinstance(item, (dict, list)):
                child: Any = {} if isinstance(item, dict) else []
                stack.append((item, child))
            elif isinstance(item, str):
                child = secrets.scrub(item)
            else:
                child = item
            if isinstance(dst, dict):
                dst[secrets.scrub(key) if isinstance(key, str) else key] = child
            else:
                dst.append(child)
    return root


#: Constructor arguments whose values a validation error must never print.
SECRET_FIELDS = frozenset({"api_key", "lunos_api_key"})
#: Constructor arguments that are URLs which may carry credentials.
URL_FIELDS = frozenset({"base_url", "lunos_base_url", "proxy"})
_WITHHELD = "<withheld>"


def redact_repr_args(args: Iterable[tuple[str | None, Any]]) -> list[tuple[str | None, Any]]:
    """pydantic ``__repr_args__`` with URL fields passed through :func:`redact_url`."""
    return [
        (name, redact_url(value) if name in URL_FIELDS and isinstance(value, str) else value)
        for name, value in args
    ]
