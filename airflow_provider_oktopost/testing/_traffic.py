"""Per-request traffic decisions: the rate limiter and the fault queue (with chaos mode).

Neither class locks: both are owned by :class:`~airflow_provider_oktopost.testing.state.SandboxState`,
which calls them under its own lock and passes in the sandbox clock, so they stay small and testable.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

from airflow_provider_oktopost.testing.faults import CHAOS_KINDS, Fault, chaos_fault

RATE_WINDOW_SECONDS = 60.0


class RateLimiter:
    """Sliding 60-second window per API key, then a block, as Oktopost documents its burst limit.

    The call that would exceed ``limit`` is refused and starts a ``block_seconds`` block during which every
    call is refused too; refused calls do not count towards the window. ``refused`` counts the 429s.
    """

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self.refused = 0
        #: Per key: every 429, and the blocks started because a call went over the window.
        self.refused_by: dict[str, int] = {}
        self.over_limit_by: dict[str, int] = {}

    def block(self, key: str, until: float) -> None:
        """Refuse ``key`` until ``until`` (sandbox time), as after a burst."""
        self._blocked_until[key] = max(until, self._blocked_until.get(key, float("-inf")))

    def admit(
        self,
        key: str,
        now: float,
        limit: int | None,
        block_seconds: float,
        window_seconds: float = RATE_WINDOW_SECONDS,
    ) -> bool:
        """Count one call at ``now``; ``False`` means answer 429."""
        if limit is None:
            return True
        if self._blocked_until.get(key, float("-inf")) > now:
            self.refused += 1
            self.refused_by[key] = self.refused_by.get(key, 0) + 1
            return False
        window = self._calls.setdefault(key, deque())
        while window and window[0] <= now - window_seconds:
            window.popleft()
        if len(window) >= limit:
            self._blocked_until[key] = now + block_seconds
            self.refused += 1
            self.refused_by[key] = self.refused_by.get(key, 0) + 1
            self.over_limit_by[key] = self.over_limit_by.get(key, 0) + 1
            return False
        window.append(now)
        return True


@dataclass
class _Armed:
    fault: Fault
    remaining: int | None


@dataclass
class _Chaos:
    rate: float
    kinds: tuple[str, ...]
    rng: random.Random


class FaultQueue:
    """Injected faults (FIFO among those that match a request) plus optional chaos mode."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []
        self._chaos: _Chaos | None = None

    def inject(self, faults: Sequence[Fault]) -> None:
        """Queue faults behind those already pending."""
        self._armed.extend(_Armed(f, f.times) for f in faults)

    @property
    def pending(self) -> list[Fault]:
        """Faults not yet used up, with ``times`` showing what is left."""
        return [replace(a.fault, times=a.remaining) for a in self._armed]

    def clear(self) -> None:
        """Drop every pending fault (chaos mode is left alone)."""
        self._armed.clear()

    @property
    def chaos_rate(self) -> float:
        """Current chaos rate (0 when off)."""
        return self._chaos.rate if self._chaos else 0.0

    def set_chaos(self, rate: float, seed: int | None = None, kinds: Sequence[str] = CHAOS_KINDS) -> None:
        """Replace a ``rate`` fraction of requests with transient faults; ``rate=0`` turns chaos off.

        One ``random.Random(seed)`` draws for every request in arrival order, so a seed gives the same
        sequence of outcomes run after run (a draw is used up even when an injected fault wins).
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("chaos rate must be between 0 and 1")
        for kind in kinds:
            chaos_fault(kind)  # validates the name
        if rate > 0 and not kinds:
            raise ValueError("chaos needs at least one kind")
        self._chaos = _Chaos(rate, tuple(kinds), random.Random(seed)) if rate > 0 else None

    def next(self, method: str, path: str) -> tuple[Fault | None, bool]:
        """Consume what should happen to this request: ``(fault or None, came_from_chaos)``."""
        chaos: Fault | None = None
        if self._chaos is not None and self._chaos.rng.random() < self._chaos.rate:
            chaos = chaos_fault(self._chaos.rng.choice(self._chaos.kinds))
        for armed in self._armed:
            if armed.fault.matches(method, path):
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining == 0:
                        self._armed.remove(armed)
                return armed.fault, False
        return chaos, chaos is not None
