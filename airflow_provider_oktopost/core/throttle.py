"""A per-account call budget shared by every client in the process.

Oktopost allows 60 calls a minute per key and blocks the key for about 15 minutes when a burst goes over. A
sliding-window log guarantees that no 60-second window ever holds more than ``per_minute`` calls from this
process (a token bucket would allow bursts of twice its rate across a window boundary). Callers *reserve* a
slot and are told how long to wait for it, so the same object serves threads and the event loop without
ever blocking: the sync driver sleeps, the async driver awaits.
"""

from __future__ import annotations

import threading
from collections import deque

from airflow_provider_oktopost.core import clock

WINDOW = 60.0
#: Below the documented 60 calls/minute, leaving room for other clients of the same key.
DEFAULT_PER_MINUTE = 50


class Throttle:
    """The sliding-window call budget of one account in this process; safe for threads and the loop."""

    def __init__(self, per_minute: int = DEFAULT_PER_MINUTE) -> None:
        if per_minute < 1:
            raise ValueError(f"rate_limit_per_minute must be >= 1, got {per_minute}")
        self.per_minute = per_minute
        self._slots: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Claim the next free slot; returns the seconds to wait before using it (0 when free now)."""
        with self._lock:
            now = clock.monotonic()
            while self._slots and self._slots[0] <= now - WINDOW:
                self._slots.popleft()
            at = max(now, self._paused_until)
            if len(self._slots) >= self.per_minute:
                at = max(at, self._slots[-self.per_minute] + WINDOW)
            self._slots.append(at)
            return at - now

    def set_per_minute(self, per_minute: int) -> None:
        """Change the budget (``throttle_for`` keeps the strictest when connections share an account)."""
        if per_minute < 1:
            raise ValueError(f"rate_limit_per_minute must be >= 1, got {per_minute}")
        with self._lock:
            self.per_minute = per_minute

    def pause(self, seconds: float) -> None:
        """Hold every caller of this account back (after a 429 from a client we do not control)."""
        with self._lock:
            self._paused_until = max(self._paused_until, clock.monotonic() + seconds)

    @property
    def paused_for(self) -> float:
        """Seconds left of a pause set by :meth:`pause` (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until - clock.monotonic())


_registry: dict[tuple[str, str], Throttle] = {}
_registry_lock = threading.Lock()


def throttle_for(base_url: str, account_id: str, per_minute: int = DEFAULT_PER_MINUTE) -> Throttle:
    """The process-wide throttle of one account on one API host (created on first use).

    Every connection to the account shares it; when they ask for different budgets, the smallest wins.
    """
    key = (base_url, account_id)
    with _registry_lock:
        throttle = _registry.get(key)
        if throttle is None:
            throttle = _registry[key] = Throttle(per_minute)
        elif per_minute < throttle.per_minute:
            # Two connections of one account with different budgets: the account keeps one window (its
            # history must not be lost) and the stricter budget.
            throttle.set_per_minute(per_minute)
        return throttle


def reset_registry() -> None:
    """Forget every throttle (tests)."""
    with _registry_lock:
        _registry.clear()
