"""Run the local Lunos server from a shell: ``python -m lunos_integrations.testing``.

Why: to point a notebook, another language's client or a manual ``curl`` at the fake. It
prints one line, ``LUNOS_BASE_URL=<url> LUNOS_API_KEY=<key>``, then serves until SIGINT or
SIGTERM. Only loopback hosts are accepted: this is a test fake with a published key.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .catalog import CATALOG_PROFILES
from .server import LocalLunosServer, _is_loopback


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lunos_integrations.testing",
        description="Serve a deterministic, Lunos-compatible API on a loopback address.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    parser.add_argument("--api-key", default="sk-lunos-local-test", help="the accepted key")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a key")
    parser.add_argument("--report-cost", action="store_true", help="add usage.cost to chat")
    parser.add_argument(
        "--strict-openai-types",
        action="store_true",
        help="refuse content: null (and other non-string, non-list content) like llama-cpp-python",
    )
    parser.add_argument(
        "--catalog-profile",
        choices=CATALOG_PROFILES,
        default="full",
        help="how /v1/models and parameter rejections behave (default: full)",
    )
    parser.add_argument(
        "--catalog-delay", type=float, default=2.0, help="seconds the 'slow' catalog takes"
    )
    args = parser.parse_args(argv)
    if not _is_loopback(args.host):
        parser.error(f"refusing to bind non-loopback host {args.host!r}")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = LocalLunosServer(
        api_key=args.api_key,
        require_auth=not args.no_auth,
        report_cost=args.report_cost,
        strict_openai_types=args.strict_openai_types,
        host=args.host,
        port=args.port,
        catalog_profile=args.catalog_profile,
        catalog_delay=args.catalog_delay,
    )
    with server:
        print(f"LUNOS_BASE_URL={server.base_url} LUNOS_API_KEY={server.api_key}", flush=True)
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
