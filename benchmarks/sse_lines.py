"""SSE parser cost for one very long line, fed 64 KiB at a time.

```bash
.venv/bin/python -m benchmarks.sse_lines            # 1, 10 and 50 MB lines
.venv/bin/python -m benchmarks.sse_lines 1 10 50 100
```

Why: a ``data:`` line only ends at its newline, and a parser that re-joins and re-scans
everything held so far for every new piece does quadratic work (issue #16 measured 0.19 s
at 5 MB, 2.0 s at 20 MB, more than 60 s at 50 MB). The figure printed is the CPU time of
feeding the whole line plus its closing blank line, best of three; per-MB cost that stays
flat as the line grows is what "linear" means here. The parser's line limit is lifted for
the run, since refusing long lines is a separate, tested behaviour.
"""

from __future__ import annotations

import sys
import time

from lunos_integrations.transport.sse import SSEParser

CHUNK = 64 * 1024
MB = 1_000_000


def feed_line(megabytes: int) -> float:
    """CPU seconds to parse one ``megabytes`` MB data line delivered in 64 KiB chunks."""
    body = b"data: " + b"x" * (megabytes * MB) + b"\n\n"
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
    parser = SSEParser(max_line=len(body) + 1)
    started = time.process_time()
    events = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    elapsed = time.process_time() - started
    if len(events) != 1 or len(events[0].data) != megabytes * MB:
        raise SystemExit(f"parser returned the wrong events for {megabytes} MB")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    sizes = [int(a) for a in (argv if argv is not None else sys.argv[1:])] or [1, 10, 50]
    print("| line | CPU s (best of 3) | ms per MB |")
    print("|---:|---:|---:|")
    for size in sizes:
        best = min(feed_line(size) for _ in range(3))
        print(f"| {size} MB | {best:.3f} | {best * 1000 / size:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
