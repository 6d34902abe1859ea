"""Small helpers shared by the route codecs (no I/O, no framework imports)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..errors import LunosInputError, WireFormatError

# data:<mime>[;param=value...];base64,<payload>
_DATA_URL_RE = re.compile(
    r"^data:(?P<mime>[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+)"
    r"(?:;[A-Za-z0-9!#$&^_.+-]+=[^;,]*)*;base64,(?P<data>.+)$",
    re.DOTALL,
)
#: Standard or URL-safe base64, optional padding (checked once per data URL, not per byte).
_BASE64_RE = re.compile(r"[A-Za-z0-9+/_\s-]*={0,2}\s*")

# Leading bytes of base64-encoded images, used when a caller gives data without a MIME type.
_IMAGE_MAGIC: tuple[tuple[str, str], ...] = (
    ("iVBORw0KGgo", "image/png"),
    ("/9j/", "image/jpeg"),
    ("R0lGOD", "image/gif"),
    ("UklGR", "image/webp"),
)


def dumps_compact(value: Any) -> str:
    """Compact JSON with non-ASCII kept as is (what the OpenAI SDK sends for arguments)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def dumps_received(value: Any, where: str) -> str:
    """Compact JSON of a value a server sent (e.g. tool arguments sent already decoded).

    A value nested too deeply for the encoder is a :class:`WireFormatError`, not a
    ``RecursionError`` escaping from a decoder.
    """
    try:
        return dumps_compact(value)
    except RecursionError:
        raise WireFormatError(f"{where} is nested too deeply to re-encode as JSON.") from None


def parse_data_url(url: str, *, param: str) -> tuple[str, str]:
    """Split ``data:<mime>;base64,<data>`` into ``(mime, data)``; reject anything else."""
    match = _DATA_URL_RE.match(url)
    if match is None:
        head = url[:40] + ("..." if len(url) > 40 else "")
        raise LunosInputError(
            f"Malformed data URL {head!r}: expected 'data:<mime type>;base64,<base64 data>'.",
            param=param,
        )
    data = match.group("data")
    if _BASE64_RE.fullmatch(data) is None:
        raise LunosInputError(
            "The data URL's payload is not base64 (only A-Z, a-z, 0-9, '+', '/', '-', '_' and "
            "'=' padding may follow 'base64,'); encode the bytes with base64.b64encode.",
            param=param,
        )
    return match.group("mime").lower(), data


def sniff_image_mime(data: str) -> str | None:
    """Guess an image MIME type from the first characters of its base64 encoding."""
    for prefix, mime in _IMAGE_MAGIC:
        if data.startswith(prefix):
            return mime
    return None


def _url_or_data_url(
    url: str | None, data: str | None, *, param: str
) -> tuple[str, str, str | None] | None:
    """The source when it is a URL, or a ``data:`` URL (given as ``url`` or ``data``);
    ``None`` when it is plain base64 ``data`` (or nothing), which each caller types itself."""
    if url and not url.startswith("data:"):
        return "url", url, None
    inline = url or data
    if inline and inline.startswith("data:"):
        mime, payload = parse_data_url(inline, param=param)
        return "base64", payload, mime
    return None


def image_source(
    url: str | None, data: str | None, mime_type: str | None, *, param: str
) -> tuple[str, str | None, str | None]:
    """Normalise an image part to ``("url", url, None)`` or ``("base64", data, mime)``.

    A ``data:`` URL given as ``url`` (or as ``data``) is split into its parts and checked.
    """
    given = _url_or_data_url(url, data, param=param)
    if given is not None:
        return given
    if data:
        guessed = mime_type or sniff_image_mime(data)
        if not guessed:
            raise LunosInputError(
                "Image data was given without mime_type and its format could not be "
                "recognised; set mime_type (e.g. 'image/png').",
                param=param,
            )
        return "base64", data, guessed.lower()
    raise LunosInputError("An image part needs either a url or base64 data.", param=param)


def file_source(
    url: str | None, data: str | None, mime_type: str | None, *, param: str
) -> tuple[str, str, str | None]:
    """Normalise a file part to ``("url", url, None)`` or ``("base64", data, mime)``."""
    given = _url_or_data_url(url, data, param=param)
    if given is not None:
        return given
    if data:
        return "base64", data, (mime_type or "application/pdf").lower()
    raise LunosInputError("A file part needs either a url or base64 data.", param=param)


def to_int(value: Any) -> int | None:
    """Token counts arrive as ints, floats or numeric strings; anything else is ``None``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None  # NaN and infinities
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return int(number) if math.isfinite(number) else None
    return None


def to_float(value: Any) -> float | None:
    """A float from a number or a numeric string; ``None`` for anything else."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if result == result else None


def describe(body: Any, limit: int = 200) -> str:
    """A short, safe excerpt of an unexpected value for error messages."""
    try:
        text = json.dumps(body, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        # Deeply nested values exceed the encoder's recursion limit (and so would repr).
        text = f"<{json_type(body)} nested too deeply to show>"
    if len(text) > limit:
        text = text[:limit] + "..."
    return text


# ---------------------------------------------------------------------------- strict reading
#
# Decoders read server JSON through these helpers so that a value of the wrong JSON type
# becomes a WireFormatError naming the route, the field and what arrived, instead of a
# KeyError/TypeError deep in a decoder or a pydantic error in a framework. ``None`` (JSON
# null, or a missing key) always means "absent" and is returned as is.


def json_type(value: Any) -> str:
    """The JSON type of a decoded value, as a phrase for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def wrong_type(where: str, expected: str, value: Any) -> WireFormatError:
    """The error for ``where`` holding ``value`` when ``expected`` was promised."""
    return WireFormatError(
        f"{where} must be {expected}, got {json_type(value)}: {describe(value, 80)}"
    )


def want_str(value: Any, where: str) -> str | None:
    """A string or ``None``; anything else is a :class:`WireFormatError`."""
    if value is None or isinstance(value, str):
        return value
    raise wrong_type(where, "a string", value)


def want_dict(value: Any, where: str) -> dict[str, Any] | None:
    """An object or ``None``; anything else is a :class:`WireFormatError`."""
    if value is None or isinstance(value, dict):
        return value
    raise wrong_type(where, "an object", value)


def want_list(value: Any, where: str) -> list[Any] | None:
    """An array or ``None``; anything else is a :class:`WireFormatError`."""
    if value is None or isinstance(value, list):
        return value
    raise wrong_type(where, "an array", value)


def _as_number(value: Any, where: str, what: str) -> int | float:
    """``value`` as an ``int`` / ``float``, also from a numeric string; else a typed error.

    Servers disagree on ``12`` / ``12.0`` / ``"12"``; all are accepted. Booleans, other
    strings, arrays and objects are a :class:`WireFormatError` naming ``what`` was expected.
    """
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise wrong_type(where, what, value) from None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise wrong_type(where, what, value)
    return number


def want_count(value: Any, where: str) -> int | None:
    """A token count: a non-negative integer (also as a whole float or numeric string).

    Negative or non-finite numbers are a :class:`WireFormatError`, like any non-number.
    """
    if value is None:
        return None
    number = _as_number(value, where, "a token count")
    if isinstance(number, float) and not math.isfinite(number):
        raise wrong_type(where, "a finite token count", value)
    if number < 0:
        raise wrong_type(where, "a non-negative token count", value)
    return int(number)


def want_number(value: Any, where: str) -> float | None:
    """A finite number (or numeric string) as ``float``, or ``None``."""
    if value is None:
        return None
    number = _as_number(value, where, "a number")
    try:
        result = float(number)
    except OverflowError:
        raise wrong_type(where, "a finite number", value) from None
    if not math.isfinite(result):
        raise wrong_type(where, "a finite number", value)
    return result
