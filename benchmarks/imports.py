"""Import time, measured in fresh interpreters: the best and the median of several runs.

Why fresh interpreters: a module imports once per process, so the only honest import time
is a new ``python`` each run. The clock starts after interpreter start-up, around the
statement alone. Rounds are interleaved (A, B, C, A, B, C …) so a noisy moment on the
machine spreads over every statement instead of landing on one.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

STATEMENTS: dict[str, str] = {
    "lunos_integrations": "import lunos_integrations",
    "lunos_integrations.langchain": "import lunos_integrations.langchain",
    "lunos_integrations.llama_index": "import lunos_integrations.llama_index",
    "langchain_openai": "import langchain_openai",
    "langchain_anthropic": "import langchain_anthropic",
    "llama_index.llms.openai_like": "import llama_index.llms.openai_like",
    "floor: langchain_core chat models": "import langchain_core.language_models.chat_models",
    "floor: llama_index.core.llms": "import llama_index.core.llms",
}
"""Label -> statement. The two "floor" rows are the framework base classes any adapter needs."""

_PROBE = (
    "import time, warnings; warnings.simplefilter('ignore')\n"
    "c, t = time.process_time(), time.perf_counter()\n"
    "{stmt}\n"
    "print(time.process_time() - c, time.perf_counter() - t)"
)


def time_once(statement: str, timeout: float = 60.0) -> tuple[float, float]:
    """(CPU, wall) seconds the statement took in a new interpreter (raises if it failed)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(stmt=statement)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{statement!r} failed: {last}")
    cpu, wall = done.stdout.strip().splitlines()[-1].split()
    return float(cpu), float(wall)


def measure(repeats: int) -> dict[str, dict[str, object]]:
    """Median CPU and wall milliseconds per label (or the error that stopped it).

    CPU time is the figure compared: on a shared machine, wall time also counts the moments
    another process held the core, while CPU time counts only the import's own work.
    """
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in STATEMENTS}
    errors: dict[str, str] = {}
    for _ in range(repeats):
        for label, statement in STATEMENTS.items():
            if label in errors:
                continue
            try:
                cpu, wall = time_once(statement)
                samples[label].append((cpu * 1000, wall * 1000))
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                errors[label] = str(exc)
    out: dict[str, dict[str, object]] = {}
    for label, statement in STATEMENTS.items():
        if label in errors:
            out[label] = {"statement": statement, "error": errors[label]}
        else:
            values = samples[label]
            out[label] = {
                "statement": statement,
                "best_ms": min(v[0] for v in values),
                "median_ms": statistics.median(v[0] for v in values),
                "median_wall_ms": statistics.median(v[1] for v in values),
                "samples_ms": [round(v[0], 1) for v in values],
            }
    return out
