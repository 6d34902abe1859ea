"""Every ```python block of README.md runs, as written, against the local server.

Why: README examples are the first code a user copies; a claim there that no test runs
drifts (a serialization call that only worked with an argument the README never showed did).

How each block runs, offline:
* The only prelude is the environment a user would have: ``LUNOS_API_KEY`` and
  ``LUNOS_BASE_URL`` point at a :class:`LocalLunosServer`. The block's text is not changed.
* A block that defines pytest tests (``def test_...``) is written to a file and run by
  pytest in a subprocess, with the package's own ``lunos_server`` fixture; all of its tests
  must pass.
* Any other block is executed; it must print something, reach the server, and print
  nothing that contains the key (the server's key carries a marker).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lunos_integrations.testing import LocalLunosServer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER_KEY = "sk-README-MARKER-8d41e7"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    code: str

    @property
    def test_names(self) -> list[str]:
        tree = ast.parse(self.code)
        return [
            node.name
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.name.startswith("test")
        ]


def python_blocks(text: str) -> list[Block]:
    """Fenced ```python blocks, with the fence's indentation removed (blocks in lists)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None or not match["lang"]:
            i += 1
            continue
        indent, lang, start = match["indent"], match["lang"], i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].rstrip() != f"{indent}```":
            line = lines[i]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        if i == len(lines):
            raise AssertionError(f"README.md:{start}: the ```{lang} block is never closed")
        if lang == "python":
            blocks.append(Block(line=start, code="\n".join(body) + "\n"))
        i += 1
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def _block_id(block: Block) -> str:
    return f"L{block.line}"


def test_readme_has_the_examples_this_suite_runs() -> None:
    # Guards the extraction itself: if the fence pattern stopped matching, the parametrized
    # tests below would silently shrink.
    assert len(BLOCKS) >= 5
    assert any(b.test_names for b in BLOCKS), "the offline-testing example defines a test"
    assert any("valid_namespaces" in b.code for b in BLOCKS), "the serialization recipe"
    for block in BLOCKS:
        compile(block.code, f"README.md:{block.line}", "exec")


def test_extraction_handles_indented_and_other_language_blocks() -> None:
    text = (
        "x\n```bash\necho no\n```\n"  # not python: skipped
        "- item\n\n  ```python\n  a = 1\n  ```\n"  # inside a list item: indented fence
        "```python\nb = 2\n```\n"
    )
    assert python_blocks(text) == [Block(7, "a = 1\n"), Block(10, "b = 2\n")]


@pytest.fixture(scope="module")
def readme_server() -> Iterator[LocalLunosServer]:
    with LocalLunosServer(api_key=MARKER_KEY) as srv:
        yield srv


@pytest.mark.timeout(120)
# load() is a beta API of langchain-core and says so; a user sees that warning too.
@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
@pytest.mark.parametrize("block", [b for b in BLOCKS if not b.test_names], ids=_block_id)
def test_readme_block_runs(
    block: Block,
    readme_server: LocalLunosServer,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    readme_server.reset()
    monkeypatch.setenv("LUNOS_API_KEY", MARKER_KEY)
    monkeypatch.setenv("LUNOS_BASE_URL", readme_server.base_url)
    namespace: dict[str, object] = {"__name__": f"readme_L{block.line}"}
    exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)
    out, err = capfd.readouterr()
    assert out.strip(), "every README example shows its result"
    assert MARKER_KEY not in out + err
    assert readme_server.requests, "the example reached the (local) server"
    for request in readme_server.requests:
        assert request.headers.get("authorization") == f"Bearer {MARKER_KEY}" or (
            request.headers.get("x-api-key") == MARKER_KEY
        )


@pytest.mark.timeout(180)
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.test_names], ids=_block_id)
def test_readme_test_block_passes_under_pytest(block: Block, tmp_path: Path) -> None:
    path = tmp_path / f"test_readme_L{block.line}.py"
    path.write_text(block.code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNOS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    count = len(block.test_names)
    assert re.search(rf"\b{count} passed\b", proc.stdout), proc.stdout
