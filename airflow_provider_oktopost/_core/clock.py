"""The provider's only access to time, so tests patch time here instead of patching the network."""

from __future__ import annotations

import asyncio
import time


def monotonic() -> float:
    """Seconds on a clock that never goes backwards (throttle windows, backoff)."""
    return time.monotonic()


def wall() -> float:
    """Seconds since the epoch (absolute deadlines that must survive a process restart)."""
    return time.time()


def sleep(seconds: float) -> None:
    """Block the calling thread; used only by the sync driver, never on an event loop."""
    if seconds > 0:
        time.sleep(seconds)


async def async_sleep(seconds: float) -> None:
    """Yield to the event loop for ``seconds``; used by the async driver and the trigger."""
    await asyncio.sleep(max(seconds, 0))
