"""The secret sweep: every error the reliability suite provokes is searched for the API key.

Why a sweep rather than one more test: the key can leak through any error path (a message
quoting server text, a cause chained from httpx, a log line), and the reliability suite
already drives every error path we know through every adapter, mode, call style and route.
So the whole suite runs with a key holding a unique marker (:data:`SWEEP_KEY`), and:

* every exception a :class:`~reliability_harness.Driver` call or construction raises is
  checked (``str``, ``repr``, ``args``, the formatted traceback, and ``str`` / ``repr`` /
  ``vars`` of each cause and context in its chain) before the test sees it;
* every log record of the test (captured at DEBUG for every logger, see ``conftest.py``)
  is checked, message, arguments and exception text.

A hit fails the test that caused it; the totals are printed in the terminal summary
("Lunos reliability: secret sweep"). Not only the whole key is searched: every
:data:`_WINDOW`-character piece of its unique part is, so a key cut in two by an excerpt
still counts as a hit.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field

#: Unique enough that no message, URL or log line can contain it by chance.
SWEEP_MARKER = "SWEEPMARK7c41e09b5d2a"
SWEEP_KEY = f"sk-lunos-{SWEEP_MARKER}"
_WINDOW = 10
#: How far a cause / context chain is followed (real chains are 1-3 long).
_CHAIN_DEPTH = 12


def exception_texts(exc: BaseException) -> dict[str, str]:
    """Every printed form of ``exc`` and of each exception chained to it."""
    texts = {
        "str(exc)": str(exc),
        "repr(exc)": repr(exc),
        "exc.args": repr(exc.args),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    seen: BaseException | None = exc
    depth = 0
    while seen is not None and depth < _CHAIN_DEPTH:
        texts[f"vars(cause {depth})"] = repr(vars(seen)) if hasattr(seen, "__dict__") else ""
        texts[f"str(cause {depth})"] = str(seen)
        texts[f"repr(cause {depth})"] = repr(seen)
        seen = seen.__cause__ or seen.__context__
        depth += 1
    return texts


def record_texts(record: logging.LogRecord) -> dict[str, str]:
    """Every printed form of one log record."""
    texts = {"message": record.getMessage(), "args": repr(record.args)}
    if record.exc_info and record.exc_info[1] is not None:
        texts["exc_info"] = "".join(traceback.format_exception(record.exc_info[1]))
    if record.exc_text:
        texts["exc_text"] = record.exc_text
    return texts


@dataclass
class SecretSweep:
    """Counts what was searched and where the key was found (thread-safe)."""

    key: str
    #: Exceptions checked (one per error path taken by a test).
    error_paths: int = 0
    #: Printed forms of those exceptions checked.
    exception_outputs: int = 0
    log_records: int = 0
    log_outputs: int = 0
    hits: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def fragments(self) -> tuple[str, ...]:
        unique = self.key.removeprefix("sk-lunos-")
        pieces = {unique[i : i + _WINDOW] for i in range(len(unique) - _WINDOW + 1)}
        return (self.key, *sorted(pieces))

    def find(self, texts: dict[str, str]) -> list[str]:
        """Where in ``texts`` a piece of the key appears (empty: nowhere)."""
        pieces = self.fragments
        return [where for where, text in texts.items() if any(p in text for p in pieces)]

    def check_exception(self, exc: BaseException, where: str = "") -> None:
        texts = exception_texts(exc)
        found = self.find(texts)
        with self._lock:
            self.error_paths += 1
            self.exception_outputs += len(texts)
            self.hits.extend(f"{where} {type(exc).__name__}: {place}" for place in found)
        assert not found, f"the API key leaked from {type(exc).__name__} into {found}"

    def check_records(self, records: Iterable[logging.LogRecord], where: str = "") -> None:
        found: list[str] = []
        n_records = n_outputs = 0
        for record in records:
            texts = record_texts(record)
            n_records += 1
            n_outputs += len(texts)
            found.extend(f"log {record.name}: {place}" for place in self.find(texts))
        with self._lock:
            self.log_records += n_records
            self.log_outputs += n_outputs
            self.hits.extend(f"{where} {place}" for place in found)
        assert not found, f"the API key leaked into log records: {found}"

    def figures(self) -> dict[str, object]:
        return {
            "error paths (exceptions checked)": self.error_paths,
            "exception outputs checked": self.exception_outputs,
            "log records checked": self.log_records,
            "log outputs checked": self.log_outputs,
            "hits": len(self.hits),
        }


#: The one sweep of this test session.
SWEEP = SecretSweep(SWEEP_KEY)
