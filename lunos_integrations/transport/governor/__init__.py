"""The shared, adaptive rate governor: one per gateway and key, for every attempt.

Modules: :mod:`.rate` (learned sending rate and in-flight limit), :mod:`.health` (retry
budget, outage probes), :mod:`.pause` (Retry-After for everyone, jittered release,
rate-limit headers), :mod:`.waiting` (tickets, waking held callers), :mod:`.core` (the
:class:`Governor` that combines them), :mod:`.registry` (one per key, reset after fork) and
:mod:`.gate` (the transport's hooks). See the README section "Rate limits and throttling".
"""

from __future__ import annotations

from .core import Governor
from .gate import BACKOFF, NO_GATE, NOW, STOP, CallGate, Gate, estimate_tokens, gate_for
from .registry import GOVERNORS, GovernorRegistry, governor_key
from .waiting import Kind, Outcome, Ticket

__all__ = [
    "BACKOFF",
    "GOVERNORS",
    "NOW",
    "NO_GATE",
    "STOP",
    "CallGate",
    "Gate",
    "Governor",
    "GovernorRegistry",
    "Kind",
    "Outcome",
    "Ticket",
    "estimate_tokens",
    "gate_for",
    "governor_key",
]
