"""The hot-path JSON parser gives exactly what ``json.loads`` gives, values and errors."""

from __future__ import annotations

import json

import pytest

from lunos_integrations._json import loads

VALID = [
    '{"a":1}',
    '  {"a": [1, 2.5, -3e2, true, false, null]}\n',
    '{"t":"caf\\u00e9 \\ud83d\\ude00 ✓","n":{"deep":{"er":[{}]}}}',
    "[]",
    '"just a string"',
    "12345678901234567890123",
    "NaN",
    '{"x": Infinity}',
    '{"dup": 1, "dup": 2}',
    "\t[1]\r\n",
]
INVALID = [
    "",
    "   ",
    '{"a":1} trailing',
    '{"a":1}{"b":2}',
    '{"a":',
    "{'a': 1}",
    "\ufeff{}",
    '{"a":1,}',
    "[1,]",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_documents_match_json_loads(text: str) -> None:
    got, want = loads(text), json.loads(text)
    assert repr(got) == repr(want)  # repr: NaN != NaN, but the reprs agree


@pytest.mark.parametrize("text", INVALID)
def test_invalid_documents_raise_the_same_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)


def test_bytes_are_accepted_like_json_loads() -> None:
    assert loads(b'{"a": "\xc3\xa9"}') == {"a": "é"}
