"""Every cookbook recipe runs as written: a subprocess, exit code 0, the expected output.

Why subprocesses: a recipe is a script users run with ``python cookbook/<name>.py``; running
it the same way catches what importing would hide (``sys.path``, ``__main__``, the offline
notice, leftover servers or threads that block exit, tracebacks printed at shutdown).

Offline runs get an environment without ``LUNOS_*`` variables and with every proxy variable
pointing at a closed local port (loopback excluded), so a recipe that tried to reach the
internet — a tokenizer or NLTK download, a stray call to the public API — fails here
instead of silently working on a developer's machine.

The "online" runs set ``LUNOS_API_KEY`` / ``LUNOS_BASE_URL`` to a local server standing in
for the real API, which exercises the recipes' real-API code path (configuration from the
environment only) without a network.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lunos_integrations.testing import LocalLunosServer

ROOT = Path(__file__).resolve().parents[2]
COOKBOOK = ROOT / "cookbook"
OFFLINE_LINE = re.compile(
    r"^LUNOS_API_KEY is not set: running offline against the local Lunos-compatible server "
    r"at http://127\.0\.0\.1:\d+/v1",
    re.MULTILINE,
)
COST = r"\$\d+\.\d{6}"
TIMEOUT = 60


@dataclass(frozen=True)
class Recipe:
    name: str
    #: Exact substrings of stdout.
    fragments: tuple[str, ...]
    #: Regular expressions, each with the minimum number of matches in stdout.
    patterns: dict[str, int] = field(default_factory=dict)
    #: Seconds the run may take (recipes that start worker processes need more).
    timeout: int = TIMEOUT


RECIPES = [
    Recipe(
        "quickstart",
        (
            "== LangChain: ChatLunos.invoke ==",
            "answer: Hello! You said: What is Lunos, in one sentence?",
            "== LangChain: ChatLunos.stream ==",
            "answer: Hello! You said: Name three things a unified AI gateway gives you.",
            "== LlamaIndex: LunosLLM.chat ==",
            "answer: Hello! You said: Say hello from LlamaIndex.",
        ),
        {r"usage: [1-9]\d* input \+ [1-9]\d* output = [1-9]\d* tokens": 3, rf"cost: {COST}": 3},
    ),
    Recipe(
        "lcel_chain",
        (
            "Hello! You said: Write a tagline for a solar-powered kettle.",
            "- noise-cancelling earmuffs: Hello! You said: Write a tagline for noise-cancelling",
            "- a desk lamp: Hello! You said: Write a tagline for a desk lamp.",
            "Lunos usage: 4 requests",
        ),
        {COST: 1},
    ),
    Recipe(
        "langgraph_agent",
        (
            "[model] tool call: get_weather({'city': 'Paris'})",
            "[model] tool call: celsius_to_fahrenheit({'celsius': 22})",
            "[tools] tool result (get_weather): Paris: sunny, 22 °C",
            "[tools] tool result (celsius_to_fahrenheit): 22.0 °C = 71.6 °F",
            "[model] final answer: The tool returned: Paris: sunny, 22 °C; 22.0 °C = 71.6 °F",
        ),
    ),
    Recipe(
        "structured_output",
        (
            "Invoice(vendor='Acme Tools', invoice_number='INV-A17', amount_due=1250.0, "
            "currency='EUR')",
            "parsed: vendor='Nordic Paper AB' invoice_number='NP-X9' amount_due=310.0 "
            "currency='SEK'",
        ),
        {rf"usage: [1-9]\d* input \+ [1-9]\d* output tokens \| cost: {COST}": 1},
    ),
    Recipe(
        "llamaindex_rag",
        (
            "indexed 3 files from data/",
            "answer: Hello! You said: Context information is below.",
            "Query: How long do I have to return unworn boots, and how is the refund paid?",
            "== source nodes ==",
            "Northwind Outfitters",
        ),
        {
            r"^- \w+\.txt \(score -?\d\.\d{3}\): Northwind Outfitters": 2,
            rf"^openai/text-embedding-3-small: [1-9]\d* requests, [1-9]\d* tokens, {COST}": 1,
            rf"^openai/gpt-4o-mini: 1 requests, [1-9]\d* tokens, {COST}": 1,
        },
    ),
    Recipe(
        "llamaindex_agent",
        (
            "tool call: check_stock({'product': 'tent'})",
            "tool call: delivery_quote({'weight_kg': 3})",
            "tool result (check_stock): tent: 4 in stock",
            "tool result (delivery_quote): 3 kg parcel: 5.75 GBP",
            "answer (streamed): The tool returned: tent: 4 in stock; 3 kg parcel: 5.75 GBP",
            "final response: The tool returned: tent: 4 in stock; 3 kg parcel: 5.75 GBP",
        ),
    ),
    Recipe(
        "cost_report",
        ("== by app (X-App-ID) ==", "== by model ==", "balance: $10.50"),
        {
            rf"^support-assistant\s+3\s+[1-9]\d*\s+[1-9]\d*\s+{COST}$": 1,
            rf"^ticket-summariser\s+1\s+[1-9]\d*\s+[1-9]\d*\s+{COST}$": 1,
            rf"^ticket-search\s+2\s+[1-9]\d*\s+0\s+{COST}$": 1,
            rf"^google/gemini-2\.5-flash\s+1\s+[1-9]\d*\s+[1-9]\d*\s+{COST}$": 1,
            rf"^TOTAL\s+6\s+[1-9]\d*\s+[1-9]\d*\s+{COST}$": 1,
            r"^google/gemini-2\.5-flash\s+input [\d.]+\s+output [\d.]+\s+\(discount 10\.0%\)": 1,
        },
    ),
    Recipe(
        "anthropic_messages",
        (
            "thinking: Thinking about: Is 391 a prime number?",
            "signed thinking blocks: 1",
            "answer: Hello! You said: Is 391 a prime number?",
            "| route: messages",
            "answer: Hello! You said: And 397?",
            "sent to /v1/messages (system='You are a careful mathematician.'):",
            "  assistant: ['thinking', 'text']",
            "streamed thinking: Thinking about: Is 391 a prime number?",
            "thinking block: Thinking about: Is 391 a prime number?",
            "text block: Hello! You said: Is 391 a prime number?",
        ),
        {rf"cost: {COST}": 1, r"streamed usage: \{'input_tokens': [1-9]": 1},
    ),
    Recipe(
        "resilience",
        (
            "answer: recovered",
            "attempts: 429 -> 503 -> answered",
            "attempts: 503 -> 503",
            "LangChain ModelAPIError: True",
            "raised LunosAuthenticationError",
            "chat requests sent: 1",
            "answer: served by the fallback",
            "answered by: openai/gpt-4o-mini",
            "models requested: openai/gpt-4o -> openai/gpt-4o-mini",
        ),
        {
            r"raised \w+ \(status 503\)": 1,
            r"raised \w+Error after receiving 'Hello![^']*'$": 1,
        },
    ),
    Recipe(
        "record_replay",
        (
            "answer: Hello! You said: Give one tip about tea, in five words.",
            "recorded 2 chat requests to tips.yaml",
            "replayed answer equals the recording: True",
            "replayed stream equals the recording: True",
            "requests that reached the server during replay: 0",
            "key or app id in the cassette: False",
        ),
        {r"^streamed in (?:[2-9]|[1-9]\d+) chunks: Hello! You said: Give one tip about coffee": 1},
    ),
    Recipe(
        "distributed_workers",
        (
            "answers matched to their prompts: 12/12",
            "worker processes: 2",
            "vectors matching their own text: 12/12",
        ),
        {
            r"^\[worker \d+\] Summarise support ticket #1\d\d in one line\. -> Hello!": 12,
            rf"^usage added up from the workers: 12 requests, [1-9]\d* tokens, {COST}$": 1,
        },
        timeout=180,
    ),
    Recipe(
        "spend_guard",
        (
            "== LangGraph: an agent stuck in a tool loop, stopped by budget_usd ==",
            "refused: LunosBudgetExceededError: Lunos call to 'openai/gpt-4o-mini' refused by "
            "the spend limit budget_usd = $0.002000",
            "Nothing was sent.",
            "== LlamaIndex: ingestion under budgets={'ingest': ...} ==",
            "refused: budgets['ingest'] = $0.000100",
            "of 60 documents before the budget stopped the run",
        ),
        {
            r"^stopped after [1-9]\d* model calls": 1,
            rf"^spent {COST} of the \$0\.002000 budget in [1-9]\d* calls$": 1,
            rf"^app 'ingest' spent {COST} of \$0\.000100$": 1,
        },
    ),
    Recipe(
        "unsupported_parameters",
        (
            "warning: LunosUnsupportedParameterWarning: Lunos rejected the parameter 'seed' "
            "for model 'openai/gpt-4o-mini'",
            "first call, requests carried: [['seed', 'temperature'], ['temperature']]",
            "second call, requests carried: [['temperature']]",
            "requests carried: [['stop', 'seed']]",
            "stream usage reported: 1 call(s)",
            "raised UnsupportedParameterError for param 'seed'",
            "does not list 'seed' in its supportedParameters, so it was not sent "
            "(gate_parameters='catalog')",
            "requests carried: [[]] (seed was never offered)",
        ),
        {rf"stream usage reported: 1 call\(s\), cost {COST}": 1, "warning: none": 2},
    ),
]


RECIPES.append(
    Recipe(
        "opentelemetry_spans",
        (
            "== spans (console exporter) ==",
            '"kind": "SpanKind.CLIENT"',
            '"gen_ai.system": "lunos"',
            '"lunos.app_id": "cookbook-otel"',
            "gen_ai.client.token.usage [{token}]: 6 recording(s)",
            "gen_ai.client.operation.duration [s]: 3 recording(s)",
            "gen_ai.client.operation.time_to_first_chunk [s]: 1 recording(s)",
        ),
        {
            r"^chat \S+ \| kind CLIENT \| child of: handle request \| route chat_completions"
            r" \| stream (True|False) \| tokens [1-9]\d* in / [1-9]\d* out": 3,
            rf"^lunos.client.cost \[USD\]: total {COST}$": 1,
        },
    )
)


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNOS_")}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env[name] = "http://127.0.0.1:9"  # discard port: any non-loopback request fails
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(overrides)
    return env


def _run(
    name: str, env: dict[str, str], timeout: int = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(COOKBOOK / f"{name}.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "unexpected" not in proc.stdout, proc.stdout
    return proc


def _cases() -> list[Any]:
    """One case per recipe, each allowed its own run time plus pytest's margin."""
    return [pytest.param(r, id=r.name, marks=pytest.mark.timeout(r.timeout + 60)) for r in RECIPES]


@pytest.mark.parametrize("recipe", _cases())
def test_recipe_runs_offline(recipe: Recipe) -> None:
    proc = _run(recipe.name, _env(), recipe.timeout)
    out = proc.stdout
    assert len(OFFLINE_LINE.findall(out)) == 1, out
    missing = [f for f in recipe.fragments if f not in out]
    assert not missing, f"missing {missing} in:\n{out}"
    for pattern, minimum in recipe.patterns.items():
        found = len(re.findall(pattern, out, re.MULTILINE))
        assert found >= minimum, f"{pattern!r}: {found} < {minimum} matches in:\n{out}"


#: Recipes whose only contact with the environment is ``_setup.connection()``'s keyword
#: arguments passed to the Lunos classes, as quickstart's (LangChain) and llamaindex_rag's
#: (LlamaIndex) are, whose runs with a key stand for theirs. That they connect only that way
#: is checked from their source by test_recipes_connect_only_through_the_setup; every other
#: recipe (a process pool, its own servers, the balance, whatever a new recipe does) runs
#: with a key too. Merged in issue #19: five interpreter runs of 5-20 s each.
CONNECT_LIKE_QUICKSTART = frozenset(
    {"lcel_chain", "langgraph_agent", "structured_output", "llamaindex_agent", "anthropic_messages"}
)
_LUNOS_CLASSES = frozenset(
    {"ChatLunos", "LunosLLM", "LunosEmbeddings", "LunosEmbedding", "LunosClient"}
)


def _env_cases() -> list[Any]:
    return [c for c in _cases() if c.values[0].name not in CONNECT_LIKE_QUICKSTART]


@pytest.mark.parametrize("name", sorted(CONNECT_LIKE_QUICKSTART))
def test_recipes_connect_only_through_the_setup(name: str) -> None:
    """Every Lunos object such a recipe builds takes ``**conn.kwargs`` and no address or key."""
    tree = ast.parse((COOKBOOK / f"{name}.py").read_text(encoding="utf-8"))
    built = 0
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in _LUNOS_CLASSES:
            continue
        built += 1
        spread = [k.value for k in node.keywords if k.arg is None]
        assert any(isinstance(v, ast.Attribute) and v.attr == "kwargs" for v in spread), (
            f"{name}.py line {node.lineno}: {node.func.id}(...) without **conn.kwargs"
        )
        named = {k.arg for k in node.keywords} & {"base_url", "api_key"}
        assert not named, f"{name}.py line {node.lineno}: sets {sorted(named)} itself"
    assert built, f"{name}.py builds no Lunos object: list it with the recipes run with a key"
    assert "connection()" in ast.unparse(tree)


@pytest.mark.parametrize("recipe", _env_cases())
def test_recipe_runs_with_a_key_from_the_environment(
    recipe: Recipe, lunos_server: LocalLunosServer
) -> None:
    """With LUNOS_API_KEY set, a recipe uses the environment only (here: a stand-in server)."""
    env = _env(LUNOS_API_KEY=lunos_server.api_key, LUNOS_BASE_URL=lunos_server.base_url)
    proc = _run(recipe.name, env, recipe.timeout)
    out = proc.stdout
    assert f"LUNOS_API_KEY is set: running against the Lunos API at {lunos_server.base_url}" in out
    assert not OFFLINE_LINE.search(out), out
    generations = [r for r in lunos_server.requests if r.method == "POST"]
    assert generations, "the recipe never called the API from the environment"
    assert all(
        r.headers.get("authorization") == f"Bearer {lunos_server.api_key}" for r in generations
    )
    if recipe.name == "resilience":
        # The fault-injection part says it runs against its own local server regardless.
        assert re.search(r"against a local server at http://127\.0\.0\.1:\d+/v1 regardless", out)
        assert "answer: pong" in out  # the final call went to the "real" API


def test_every_recipe_is_tested_and_documented() -> None:
    """A new recipe cannot be added without a test entry, a docstring and a README line."""
    scripts = sorted(p.stem for p in COOKBOOK.glob("*.py") if not p.stem.startswith("_"))
    assert scripts == sorted(r.name for r in RECIPES)
    readme_section = (COOKBOOK.parent / "README.md").read_text(encoding="utf-8")
    for name in scripts:
        source = (COOKBOOK / f"{name}.py").read_text(encoding="utf-8")
        assert source.startswith('"""'), f"{name}.py must start with a docstring"
        assert f"(cookbook/{name}.py)" in readme_section, f"{name} is not linked"
