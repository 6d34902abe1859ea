"""The repository is all the test suite needs (issue #13, part 1).

A clone with nothing beside it must pass: the suite once read request schemas from a
sibling folder of the repository, which only our build machines had. ``.ci/run`` proves
the whole thing by running the README's commands in a fresh clone; these checks catch the
usual way back into that state (a path that climbs out of the repository) early and name
the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "tests" / "data" / "schemas"
SOURCES = ("tests", "lunos_integrations", "cookbook", "benchmarks")
# A path built to leave the repository: the parent folder joined on, a string starting
# with the parent folder, a machine path, or the old sibling schema folder.
_OUTSIDE = re.compile(r"""/\s*["']\.\.["']|["']\.\./|/work/|shared/schemas""")


def _python_sources() -> list[Path]:
    return sorted(p for folder in SOURCES for p in (ROOT / folder).rglob("*.py"))


def test_no_source_reaches_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _python_sources()
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "git clone" in ci and "mktemp -d" in ci  # CI runs in a fresh, isolated clone


@pytest.mark.parametrize(
    ("name", "commit"),
    [
        ("create_chat_completion_request.schema.json", "f85dbe223d40e1a31cba812ab2d755c7e98a92a3"),
        ("create_message_params.schema.json", "8b42a21e6aa7fc9b521cc0c1581f586480b5cad3"),
    ],
)
def test_schemas_are_in_the_repository_with_their_origin(name: str, commit: str) -> None:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert commit in schema["$comment"]
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    assert name in readme and commit in readme
