"""Generate a JSON value that is valid for a JSON schema, filled from hints in user text.

Why: the fake model must return tool-call arguments and ``json_schema`` structured output
that a real client validates (LangChain parses tool args into pydantic models). Random
values would make tests flaky; values taken from the user's words make assertions natural,
e.g. tool ``magic_function(input: int)`` and "What is magic_function(3)?" → ``{"input": 3}``.

Supported keywords: ``type`` (single or list; ``null`` is avoided when another type is
allowed), ``properties``/``required`` (all properties are emitted, optional ones only down to
a nesting depth of 3 so recursive schemas terminate), ``enum``, ``const``, ``default``,
``items``/``prefixItems``, ``minItems``/``maxItems``, ``anyOf``/``oneOf`` (the first
non-null branch), ``allOf`` (merged), ``$ref`` into ``$defs``/``definitions``,
``minimum``/``maximum``/``exclusive*``, ``minLength``/``maxLength`` and a few ``format``
values. ``pattern`` is not supported (the value is not guaranteed to match).

Hints, consumed in order so several fields get different values: integers in the text for
``integer``/``number`` fields, quoted strings (then capitalised words, then other words) for
``string`` fields; ``enum`` picks a member mentioned in the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_INT_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")
_QUOTED_RE = re.compile(r"\"([^\"]+)\"|'([^']+)'|“([^”]+)”")
_WORD_RE = re.compile(r"[^\W\d_][\w-]*")
_STOPWORDS = {
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "by",
    "call",
    "can",
    "do",
    "for",
    "from",
    "get",
    "how",
    "i",
    "in",
    "is",
    "it",
    "me",
    "my",
    "of",
    "on",
    "or",
    "please",
    "tell",
    "the",
    "this",
    "to",
    "use",
    "value",
    "what",
    "whats",
    "with",
    "you",
    "your",
}
_MAX_OPTIONAL_DEPTH = 3
_MAX_DEPTH = 12


class TextHints:
    """Values found in user text, handed out one at a time per kind."""

    def __init__(self, text: str, exclude_words: set[str] | None = None) -> None:
        self.text = text
        self.numbers: list[float] = []
        for m in _INT_RE.finditer(text):
            self.numbers.append(float(m.group(0)))
        quoted = [next(g for g in m.groups() if g is not None) for m in _QUOTED_RE.finditer(text)]
        unquoted = _QUOTED_RE.sub(" ", text)
        excluded = {w.lower() for w in (exclude_words or set())}
        words = [
            w
            for w in _WORD_RE.findall(unquoted)
            if w.lower() not in _STOPWORDS and w.lower() not in excluded and "_" not in w
        ]
        capitalised = [w for i, w in enumerate(words) if w[0].isupper() and i > 0]
        rest = [w for w in words if w not in capitalised]
        self.strings: list[str] = quoted + capitalised + rest
        self._n = 0
        self._s = 0

    def next_number(self) -> float | None:
        if self._n < len(self.numbers):
            self._n += 1
            return self.numbers[self._n - 1]
        return None

    def next_string(self) -> str | None:
        if self._s < len(self.strings):
            self._s += 1
            return self.strings[self._s - 1]
        return None


def _resolve_ref(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return {}
        node = node[part]
    return node if isinstance(node, Mapping) else {}


def _merge_all_of(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for sub in schema.get("allOf", []):
        sub = _deref(sub, root)
        for key, value in sub.items():
            if key == "properties":
                merged.setdefault("properties", {}).update(value)
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _deref(schema: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while isinstance(schema, Mapping) and "$ref" in schema and seen < 32:
        target = _resolve_ref(str(schema["$ref"]), root)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest}
        seen += 1
    return schema if isinstance(schema, Mapping) else {}


def _pick_type(schema: Mapping[str, Any]) -> str | None:
    t = schema.get("type")
    if isinstance(t, list):
        non_null = [x for x in t if x != "null"]
        return str(non_null[0]) if non_null else "null"
    if isinstance(t, str):
        return t
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return None


def _number(schema: Mapping[str, Any], hints: TextHints, integer: bool) -> float | int:
    value = hints.next_number()
    if value is None:
        default = schema.get("default")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            value = float(default)
        else:
            value = float(schema.get("minimum", schema.get("exclusiveMinimum", 0)))
            if "exclusiveMinimum" in schema and "minimum" not in schema:
                value += 1
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), (int, float)):
        lo = max(lo if lo is not None else -1e308, schema["exclusiveMinimum"] + 1)
    if isinstance(schema.get("exclusiveMaximum"), (int, float)):
        hi = min(hi if hi is not None else 1e308, schema["exclusiveMaximum"] - 1)
    if lo is not None and value < lo:
        value = float(lo)
    if hi is not None and value > hi:
        value = float(hi)
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0:
        value = round(value / multiple) * multiple
    if integer or float(value).is_integer():
        return int(value)
    return value


_FORMATS = {
    "date": "2025-01-01",
    "date-time": "2025-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "hostname": "example.com",
}


def _string(schema: Mapping[str, Any], hints: TextHints) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    value = hints.next_string()
    if value is None:
        default = schema.get("default")
        value = default if isinstance(default, str) else "example"
    min_len = int(schema.get("minLength", 0))
    max_len = schema.get("maxLength")
    if len(value) < min_len:
        value = value + "x" * (min_len - len(value))
    if isinstance(max_len, int) and len(value) > max_len:
        value = value[:max_len]
    return value


def _enum_choice(options: list[Any], hints: TextHints, default: Any) -> Any:
    lowered = hints.text.lower()
    for option in options:
        if isinstance(option, str) and re.search(
            r"(?<!\w)" + re.escape(option.lower()) + r"(?!\w)", lowered
        ):
            return option
    if default in options:
        return default
    return options[0] if options else None


def _generate(schema: Any, root: Mapping[str, Any], hints: TextHints, depth: int) -> Any:
    if schema is True or schema is None:
        schema = {}
    if schema is False:
        return None
    schema = _deref(schema, root)
    if "allOf" in schema:
        schema = _merge_all_of(schema, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema and isinstance(schema["enum"], list):
        return _enum_choice(schema["enum"], hints, schema.get("default"))
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            chosen = next(
                (b for b in branches if _pick_type(_deref(b, root)) != "null"), branches[0]
            )
            base = {k: v for k, v in schema.items() if k not in (key, "default")}
            return _generate({**base, **_deref(chosen, root)}, root, hints, depth)
    kind = _pick_type(schema)
    if kind == "object":
        return _object(schema, root, hints, depth)
    if kind == "array":
        return _array(schema, root, hints, depth)
    if kind == "integer":
        return _number(schema, hints, integer=True)
    if kind == "number":
        return _number(schema, hints, integer=False)
    if kind == "boolean":
        default = schema.get("default")
        return default if isinstance(default, bool) else True
    if kind == "null":
        return None
    if kind == "string":
        return _string(schema, hints)
    if "default" in schema:
        return schema["default"]
    return _string(schema, hints)


def _object(
    schema: Mapping[str, Any], root: Mapping[str, Any], hints: TextHints, depth: int
) -> dict[str, Any]:
    props: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    out: dict[str, Any] = {}
    for name, sub in props.items():
        if name not in required and depth >= _MAX_OPTIONAL_DEPTH:
            continue
        if depth >= _MAX_DEPTH:
            break
        out[name] = _generate(sub, root, hints, depth + 1)
    for name in required:
        if name not in out:
            extra = schema.get("additionalProperties")
            out[name] = _generate(extra if isinstance(extra, Mapping) else {}, root, hints, depth)
    min_props = int(schema.get("minProperties", 0))
    extra_schema = schema.get("additionalProperties")
    i = 0
    while len(out) < min_props and extra_schema is not False:
        out[f"key{i}"] = _generate(
            extra_schema if isinstance(extra_schema, Mapping) else {}, root, hints, depth + 1
        )
        i += 1
    return out


def _array(
    schema: Mapping[str, Any], root: Mapping[str, Any], hints: TextHints, depth: int
) -> list[Any]:
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list):
        return [_generate(s, root, hints, depth + 1) for s in prefix]
    min_items = int(schema.get("minItems", 0))
    max_items = schema.get("maxItems")
    count = max(min_items, 1 if depth < _MAX_OPTIONAL_DEPTH else 0)
    if isinstance(max_items, int):
        count = min(count, max_items)
    items = schema.get("items", {})
    values = [_generate(items, root, hints, depth + 1) for _ in range(count)]
    if schema.get("uniqueItems"):
        unique: list[Any] = []
        for value in values:
            while value in unique and isinstance(value, (int, str)) and not isinstance(value, bool):
                value = value + 1 if isinstance(value, int) else value + "x"
            unique.append(value)
        values = unique
    return values


def instance_for_schema(
    schema: Mapping[str, Any] | bool | None,
    text: str = "",
    *,
    exclude_words: set[str] | None = None,
) -> Any:
    """Return a value valid for ``schema``, preferring values mentioned in ``text``.

    ``exclude_words`` keeps e.g. tool names out of string hints.
    """
    root: Mapping[str, Any] = schema if isinstance(schema, Mapping) else {}
    return _generate(schema, root, TextHints(text, exclude_words), 0)
