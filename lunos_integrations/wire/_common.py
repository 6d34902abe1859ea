"""Small helpers shared by the route codecs (no I/O, no framework imports)."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import LunosInputError

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
        return int(value) if value == value else None  # NaN check
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return None
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
    except (TypeError, ValueError):
        text = repr(body)
    if len(text) > limit:
        text = text[:limit] + "..."
    return text
