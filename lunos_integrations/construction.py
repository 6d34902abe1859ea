"""Constructor errors without secrets: what the adapters raise instead of pydantic's.

Kept apart from :mod:`.redact` (which :mod:`.errors` imports) so that neither module
imports the other: this one needs both.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .errors import LunosConfigError, LunosError
from .redact import _WITHHELD, SECRET_FIELDS, URL_FIELDS, has_userinfo, redact_url

__all__ = ["safe_construction_error"]


def safe_construction_error(exc: Exception) -> BaseException:
    """What an adapter raises instead of pydantic's ``ValidationError`` from its constructor.

    Why: a ``ValidationError`` prints each failing input; for a model-level validator that
    input is the whole argument dict, API key included, and for a field it may be the key
    or a URL with a password. So: a Lunos error raised by our own validation comes out as
    itself (``LunosInputError`` naming ``api_key``, not a wrapper quoting the arguments);
    any other error is rebuilt with those inputs withheld or redacted.
    """
    if not isinstance(exc, ValidationError):
        return exc
    details = exc.errors()
    for detail in details:
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, LunosError):
            return cause
    changed = False
    rebuilt: list[Any] = []
    for detail in details:
        loc = detail.get("loc", ())
        value = detail.get("input")
        field = loc[0] if loc else None
        if not loc or field in SECRET_FIELDS:
            value, changed = _WITHHELD, True
        elif field in URL_FIELDS and isinstance(value, str) and has_userinfo(value):
            value, changed = redact_url(value), True
        item: dict[str, Any] = {"type": detail["type"], "loc": loc, "input": value}
        if "ctx" in detail:
            item["ctx"] = detail["ctx"]
        rebuilt.append(item)
    if not changed:
        return exc
    try:
        return ValidationError.from_exception_data(exc.title, rebuilt)
    except Exception:  # an error type that cannot be rebuilt: say what, never the input
        messages = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details)
        return LunosConfigError(f"invalid {exc.title} arguments: {messages}")
