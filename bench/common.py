"""Shared by the benchmarks: statistics, RSS, a scaled clock, and a sandbox whose clock follows it."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any


def emit(name: str, **figures: Any) -> None:
    """One result line: printed for humans, and as JSON for scripts/bench.sh's report.

    Adds the 1-minute load average at the time of the line, so that the report can say how busy the
    machine was from a measurement rather than from a fixed sentence.
    """
    import os

    line = {"bench": name, "load_1m": round(os.getloadavg()[0], 2), **figures}
    print(f"RESULT {json.dumps(line, sort_keys=True)}", flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb() -> float:
    """Current resident set size of this process (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class ScaledClock:
    """Provider time that runs ``factor`` times faster than real time (wall, monotonic and sleeps).

    Patched into ``airflow_provider_oktopost._core.clock`` and into the sandbox's clock, so the API's
    60-calls-a-minute window, the provider's budget, poll intervals and deadlines all run in the same
    simulated time while the run takes ``1/factor`` of it in real seconds.
    """

    def __init__(self, factor: float, start: float = 1_800_000_000.0) -> None:
        self.factor = factor
        self.start = start
        self._real0 = time.monotonic()

    def wall(self) -> float:
        return self.start + (time.monotonic() - self._real0) * self.factor

    def monotonic(self) -> float:
        return self.wall()

    async def async_sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.factor)

    def install(self, sandbox: Any | None = None) -> None:
        from airflow_provider_oktopost._core import clock

        clock.wall = self.wall  # type: ignore[assignment]
        clock.monotonic = self.monotonic  # type: ignore[assignment]
        clock.async_sleep = self.async_sleep  # type: ignore[assignment]
        if sandbox is not None:
            sandbox.state.now = self.wall  # rate-limit windows and request times in simulated seconds


class LoopLag:
    """A ticker on the event loop: how late a 10 ms sleep wakes up (real time), and peak RSS."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.lags: list[float] = []
        self.peak_rss = rss_mb()
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(max(0.0, time.perf_counter() - before - self.period))
            if len(self.lags) % 10 == 0:
                self.peak_rss = max(self.peak_rss, rss_mb())

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.peak_rss = max(self.peak_rss, rss_mb())


def run_record(command: str, started: str) -> dict[str, Any]:
    """The first line of a results file: which command ran, when, on what (no paths of the machine).

    ``bench/report.py`` renders the page from the results file alone, so that the committed file
    (``bench/results/``) regenerates the committed page; the machine is described here, not at rendering.
    """
    from importlib.metadata import version

    return {
        "bench": "_run",
        "command": command,
        "started": started,
        "airflow": version("apache-airflow"),
        **machine(),
    }


def machine() -> dict[str, Any]:
    import os
    import platform

    cpu = "unknown"
    mem_gb = float("nan")
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
        with open("/proc/meminfo") as info:
            mem_gb = int(next(line for line in info if line.startswith("MemTotal")).split()[1]) / 1024 / 1024
    except (OSError, StopIteration):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_gb, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


if __name__ == "__main__":  # scripts/bench.sh: python bench/common.py COMMAND STARTED -> the run's record
    print(json.dumps(run_record(sys.argv[1], sys.argv[2]), sort_keys=True))
