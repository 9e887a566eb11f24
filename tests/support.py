"""Helpers shared by test modules (importable because pyproject puts tests/ on the path)."""

from __future__ import annotations


class SleepRecorder:
    """Replaces the provider's sleeps: records what would have been slept and advances a fake clock."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.offset = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)
