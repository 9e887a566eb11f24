"""Retry policy: how many attempts, how long to wait between them.

Capped exponential backoff with full jitter, so a fleet of workers that failed together does not retry in
lockstep. A server hint (``Retry-After``) wins over the computed delay, but the policy never sleeps longer
than ``max_wait`` inside a worker: a longer wait is handed back to the caller as an error that carries it,
so Airflow can defer or reschedule instead of holding a slot.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry a transient failure and how long to wait before each retry (see the module)."""

    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    #: The longest single wait the client will sleep itself; longer hints are raised to the caller.
    max_wait: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    def delay(self, attempt: int, hint: float | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``; None when the budget is spent.

        ``hint`` is the server's ``Retry-After``. A hint above ``max_wait`` also returns None: waiting that
        long belongs to the scheduler, not to a sleeping worker.
        """
        if attempt >= self.max_retries:
            return None
        if hint is not None:
            return hint if hint <= self.max_wait else None
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return self.rng.uniform(ceiling / 2, ceiling)
