"""JSON parsing for the stream hot path.

Every streamed chunk is one JSON document. ``json.loads`` spends about as long in its Python
wrappers (type check, BOM check, two whitespace regex matches) as the C scanner spends
parsing a 200-byte chunk. :func:`loads` calls the decoder's scanner directly for the usual
case (a ``str`` document with no surrounding whitespace) and hands anything else to
``json.loads``, so results and errors are exactly those of ``json.loads``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

# The scanner json.loads itself ends up calling (the C one when available); typeshed does
# not declare the attribute, hence the cast.
_scan: Callable[[str, int], tuple[Any, int]] = cast(Any, json.JSONDecoder()).scan_once
_slow = json.loads


def loads(text: str | bytes) -> Any:
    """``json.loads(text)``, about 1 µs faster per call on typical stream chunks."""
    if type(text) is not str:
        return _slow(text)
    try:
        obj, end = _scan(text, 0)
    except (StopIteration, ValueError):
        return _slow(text)  # leading whitespace, or raises json.JSONDecodeError as usual
    if end != len(text):
        return _slow(text)  # trailing whitespace is fine; trailing data raises
    return obj
