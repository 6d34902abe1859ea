"""Turn the raw JSON of a run into the Markdown ratio tables.

Why ratios: absolute CPU times depend on the machine; the ratio to an anchor measured in the
same run (same machine, same minute, same server, same requests) is what carries over.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clients import BENCHES

ANCHOR: dict[str, str] = {
    "raw_chat": "chat_openai",
    "raw_messages": "chat_anthropic",
    "lunos_client": "chat_openai",
    "chat_lunos": "chat_openai",
    "chat_lunos_messages": "chat_anthropic",
    "lunos_llm": "openai_like",
    "lunos_llm_messages": "openai_like",
}
"""Client -> the client it is compared with. Anchors themselves have no entry."""


def _get(data: dict[str, Any], *path: str) -> Any:
    cur: Any = data
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _level(client: dict[str, Any], op: str, which: int) -> dict[str, Any] | None:
    """The ``which``-th concurrency level (0 = lowest) measured for ``op``."""
    metrics = _get(client, "async", "metrics")
    if not isinstance(metrics, dict):
        return None
    entries = sorted(
        (v for k, v in metrics.items() if k.startswith(op + "_c")),
        key=lambda v: int(v["concurrency"]),
    )
    return entries[which] if len(entries) > which else None


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    get: Callable[[dict[str, Any]], float | None]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _async_metric(op: str, which: int) -> Callable[[dict[str, Any]], float | None]:
    def get(client: dict[str, Any]) -> float | None:
        entry = _level(client, op, which)
        return None if entry is None else _num(entry.get("per_s"))

    return get


METRICS: list[Metric] = [
    Metric("invoke", "CPU / invoke", "ms", False,
           lambda c: _num(_get(c, "sync", "metrics", "invoke", "cpu_ms"))),
    Metric("stream_200", "CPU / 200-chunk stream", "ms", False,
           lambda c: _num(_get(c, "sync", "metrics", "stream_200", "cpu_ms"))),
    Metric("stream_2000", "CPU / 2,000-chunk stream", "ms", False,
           lambda c: _num(_get(c, "sync", "metrics", "stream_2000", "cpu_ms"))),
    Metric("ainvoke_lo", "ainvoke/s, C={ainvoke0}", "1/s", True, _async_metric("ainvoke", 0)),
    Metric("ainvoke_hi", "ainvoke/s, C={ainvoke1}", "1/s", True, _async_metric("ainvoke", 1)),
    Metric("astream_lo", "astream/s, C={astream0}", "1/s", True, _async_metric("astream", 0)),
    Metric("astream_hi", "astream/s, C={astream1}", "1/s", True, _async_metric("astream", 1)),
    Metric("rss_peak", "peak RSS, {streams} streams", "MB", False,
           lambda c: _num(_get(c, "rss", "metrics", "rss", "peak_rss_mb"))),
    Metric("rss_delta", "RSS growth, {streams} streams", "MB", False,
           lambda c: _num(_get(c, "rss", "metrics", "rss", "delta_rss_mb"))),
]  # fmt: skip
METRIC_BY_KEY = {m.key: m for m in METRICS}


@dataclass(frozen=True)
class Target:
    what: str
    client: str
    metric: str  # a Metric key, or "import:<label>"
    anchor: str  # a client id, or "import:<label>"
    op: str  # "<=" or ">="
    bound: float


TARGETS: list[Target] = [
    Target("ChatLunos CPU per invoke vs ChatOpenAI", "chat_lunos", "invoke", "chat_openai",
           "<=", 0.5),
    Target("ChatLunos CPU per 200-chunk stream vs ChatOpenAI", "chat_lunos", "stream_200",
           "chat_openai", "<=", 0.2),
    Target('ChatLunos(api="messages") CPU per stream vs ChatAnthropic', "chat_lunos_messages",
           "stream_200", "chat_anthropic", "<=", 0.5),
    Target("LunosLLM CPU per chat vs OpenAILike", "lunos_llm", "invoke", "openai_like",
           "<=", 0.5),
    Target("LunosLLM CPU per stream vs OpenAILike", "lunos_llm", "stream_200", "openai_like",
           "<=", 0.2),
    Target("async ainvoke throughput, {ainvoke0} concurrent, vs ChatOpenAI", "chat_lunos",
           "ainvoke_lo", "chat_openai", ">=", 2.0),
    Target("import lunos_integrations.langchain vs langchain_openai",
           "import:lunos_integrations.langchain", "import", "import:langchain_openai",
           "<=", 0.3),
]  # fmt: skip


def _labels(data: dict[str, Any]) -> dict[str, str]:
    """Concrete numbers for the label placeholders (they differ in --quick runs)."""
    out = {"ainvoke0": "?", "ainvoke1": "?", "astream0": "?", "astream1": "?", "streams": "?"}
    for client in data["clients"].values():
        for op in ("ainvoke", "astream"):
            for which in (0, 1):
                entry = _level(client, op, which)
                if entry is not None:
                    out[f"{op}{which}"] = str(entry["concurrency"])
        streams = _get(client, "rss", "metrics", "rss", "streams")
        if streams is not None:
            out["streams"] = f"{int(streams):,}"
    return out


def value(data: dict[str, Any], client: str, metric: str) -> float | None:
    if client.startswith("import:"):
        return _num(_get(data, "imports", client[len("import:") :], "best_ms"))
    entry = data["clients"].get(client)
    return None if entry is None else METRIC_BY_KEY[metric].get(entry)


_SYNC_METRICS = {"invoke", "stream_200", "stream_2000"}


def median_value(data: dict[str, Any], client: str, metric: str) -> float | None:
    """The median over repeats (the headline figure is the best repeat)."""
    if client.startswith("import:"):
        return _num(_get(data, "imports", client[len("import:") :], "median_ms"))
    if metric in _SYNC_METRICS:
        got = _get(data, "clients", client, "sync", "metrics", metric, "cpu_ms_median")
        if got is not None:
            return _num(got)
    return value(data, client, metric)


def _repeat_values(data: dict[str, Any], client: str, metric: str) -> list[float]:
    """The per-repeat figures behind a best-of (worker repeats, or import samples)."""
    if client.startswith("import:"):
        raw = _get(data, "imports", client[len("import:") :], "samples_ms")
    elif metric in _SYNC_METRICS:
        raw = _get(data, "clients", client, "sync", "metrics", metric, "cpu_ms_repeats")
    else:
        raw = None
    return [float(v) for v in raw] if isinstance(raw, list) else []


def repeat_ratios(data: dict[str, Any], client: str, anchor: str, metric: str) -> list[float]:
    """Ours / anchor for each repeat, paired by index: both were measured in the same pass
    of the interleaved schedule, minutes apart at most."""
    ours = _repeat_values(data, client, metric)
    base = _repeat_values(data, anchor, metric)
    return [o / a for o, a in zip(ours, base, strict=False) if a > 0]


def ratio(ours: float | None, anchor: float | None) -> float | None:
    if ours is None or anchor is None or anchor == 0 or not math.isfinite(ours):
        return None
    return ours / anchor


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def _client_name(client: str) -> str:
    return BENCHES[client].name if client in BENCHES else client


def target_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    labels = _labels(data)
    rows = []
    for t in TARGETS:
        ours = value(data, t.client, t.metric)
        anchor = value(data, t.anchor, t.metric)
        r = ratio(ours, anchor)
        verdict = (
            "n/a"
            if r is None
            else ("pass" if (r <= t.bound if t.op == "<=" else r >= t.bound) else "MISS")
        )
        spread = repeat_ratios(data, t.client, t.anchor, t.metric)
        median_ratio = ratio(
            median_value(data, t.client, t.metric), median_value(data, t.anchor, t.metric)
        )
        rows.append(
            {
                "what": t.what.format(**labels),
                "ours": ours,
                "anchor": anchor,
                "ratio": r,
                "spread": (min(spread), max(spread)) if len(spread) > 1 else None,
                "median_ratio": median_ratio,
                "target": f"{t.op} {t.bound}",
                "verdict": verdict,
            }
        )
    return rows


def _errors(data: dict[str, Any]) -> list[str]:
    out = []
    for client, suites in data["clients"].items():
        for suite, result in suites.items():
            if "error" in result:
                out.append(f"- {_client_name(client)} / {suite}: {result['error']}")
            for key, entry in (result.get("metrics") or {}).items():
                if isinstance(entry, dict) and "warning" in entry:
                    out.append(f"- {_client_name(client)} / {key}: {entry['warning']}")
    for label, entry in data.get("imports", {}).items():
        if "error" in entry:
            out.append(f"- import {label}: {entry['error']}")
    return out


def render(data: dict[str, Any]) -> str:
    labels = _labels(data)
    m = data["machine"]
    lines = [
        "# Benchmark results" + (" (quick smoke run: counts too small to trust)"
                                 if data.get("quick") else ""),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['platform']}; "
        f"run took {data['seconds']} s.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        "",
        "CPU is `time.process_time()` of the client process (the server runs in another "
        "process): the median over rounds after warm-up inside one worker process, then the "
        f"best of {data.get('repeats', 1)} fresh worker process(es) per client, run in "
        "interleaved order (A, B, C, A, B, C, ...). Best-of, as `timeit` advises: on a shared "
        "machine other work only ever adds CPU time. Import times: best of the fresh "
        "interpreters. Ratio = ours / anchor, same run; the ratio of medians and the range "
        "of per-repeat ratios (each repeat paired with the anchor's repeat of the same pass) "
        "show how much the machine moved.",
        "",
        "## Targets",
        "",
        "| measure | ours | anchor | ratio | ratio of medians | range over repeats | target "
        "| result |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for row in target_rows(data):
        spread = row["spread"]
        span = "—" if spread is None else f"{_fmt(spread[0])} to {_fmt(spread[1])}"
        lines.append(
            f"| {row['what']} | {_fmt(row['ours'])} | {_fmt(row['anchor'])} | "
            f"{_fmt(row['ratio'])} | {_fmt(row['median_ratio'])} | {span} | {row['target']} "
            f"| {row['verdict']} |"
        )
    lines += ["", "## Ratio to the anchor, every client", ""]
    heads = [m.label.format(**labels) for m in METRICS]
    lines.append("| client | anchor | " + " | ".join(heads) + " |")
    lines.append("|---|---|" + "---:|" * len(heads))
    for client in data["clients"]:
        anchor = ANCHOR.get(client)
        if anchor is None or anchor not in data["clients"]:
            continue
        cells = [
            _fmt(ratio(value(data, client, k.key), value(data, anchor, k.key))) for k in METRICS
        ]
        lines.append(
            f"| {_client_name(client)} | {_client_name(anchor)} | " + " | ".join(cells) + " |"
        )
    lines += ["", "CPU and RSS ratios: lower is better. Throughput ratios: higher is better.", ""]
    lines += ["## Raw numbers", ""]
    lines.append(
        "| client | "
        + " | ".join(f"{h} ({m.unit})" for h, m in zip(heads, METRICS, strict=True))
        + " | open streams at peak |"
    )
    lines.append("|---|" + "---:|" * (len(heads) + 1))
    for client, entry in data["clients"].items():
        cells = [_fmt(m.get(entry)) for m in METRICS]
        peak_open = _get(entry, "rss", "metrics", "rss", "peak_open_streams")
        cells.append("n/a" if peak_open is None else str(peak_open))
        lines.append(f"| {_client_name(client)} | " + " | ".join(cells) + " |")
    if data.get("imports"):
        lines += ["", "## Import time (fresh interpreters)", ""]
        lines.append("CPU time of the import statement alone (wall time shown for reference).")
        lines.append("")
        lines.append(
            "| statement | CPU best (ms) | CPU median (ms) | wall median (ms) "
            "| ratio to anchor (CPU best / median) | CPU samples (ms) |"
        )
        lines.append("|---|---:|---:|---:|---:|---|")
        import_anchor = {
            "lunos_integrations": "langchain_openai",
            "lunos_integrations.langchain": "langchain_openai",
            "lunos_integrations.llama_index": "llama_index.llms.openai_like",
            "floor: langchain_core chat models": "langchain_openai",
            "floor: llama_index.core.llms": "llama_index.llms.openai_like",
        }
        for label, entry in data["imports"].items():
            best = _num(entry.get("best_ms"))
            med = _num(entry.get("median_ms"))
            anchor_label = import_anchor.get(label)
            rtext = "—"
            if anchor_label is not None:
                r = ratio(best, _num(_get(data, "imports", anchor_label, "best_ms")))
                rm = ratio(med, _num(_get(data, "imports", anchor_label, "median_ms")))
                rtext = f"{_fmt(r)} / {_fmt(rm)} (vs {anchor_label})"
            samples = ", ".join(str(s) for s in entry.get("samples_ms", []))
            wall = _fmt(_num(entry.get("median_wall_ms")), 1)
            lines.append(
                f"| `{entry['statement']}` | {_fmt(best, 1)} | {_fmt(med, 1)} | {wall} | {rtext} "
                f"| {samples} |"
            )
    problems = _errors(data)
    if problems:
        lines += ["", "## Problems in this run", "", *problems]
    return "\n".join(lines) + "\n"
