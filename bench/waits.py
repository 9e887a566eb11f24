"""Benchmark 3: 1,000 concurrent integration waits in one event loop, against a sandbox allowing 60 calls/min.

Time is scaled: the provider clock (``core.clock``: wall, monotonic, sleeps) and the sandbox clock (rate-limit
windows, request times) both run ``BENCH_TIME_FACTOR`` (default 20) times faster than real time, so that
7 simulated minutes take about 21 real seconds. API calls, 429s, detection delays and poll intervals are
in simulated seconds; event-loop lag and RSS are real. Loop lag is pessimistic: the loop does 20x the work
per real second it would do in a triggerer, and the sandbox serves from a thread of the same process.

Modes (each in a fresh process, ``python bench/waits.py MODE``):

- ``poller``: ``OktopostIntegrationTrigger.run()`` as shipped (one coalesced poller per account);
- ``baseline``: the trigger's previous loop, one ``GET /v2/integration/{id}`` per trigger per interval
  with its own ``httpx`` pool, through the same per-account budget (the old behaviour).

The connection lookup is resolved once and cached for both modes (it is not what is measured).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from typing import Any

from common import LoopLag, ScaledClock, emit, median, percentile, rss_mb

from airflow_provider_oktopost.core import clock
from airflow_provider_oktopost.testing import OktopostSandbox

N = int(os.environ.get("BENCH_WAITS_N", "1000"))
FACTOR = float(os.environ.get("BENCH_TIME_FACTOR", "20"))
POLL = 30.0  # the example DAGs' poke_interval
READY_FROM, READY_TO = 10.0, 240.0  # integrations become valid at random moments in this window
CAP = 420.0  # every wait's end_time (simulated seconds after the start)


async def old_trigger_loop(integration_id: str, end_time: float) -> tuple[str, float]:
    """The trigger's run() before the poller: its own pool, one read per interval (events reduced)."""
    from airflow_provider_oktopost.exceptions import (
        PERMANENT_ERRORS,
        TRANSIENT_ERRORS,
        OktopostRateLimitError,
    )
    from airflow_provider_oktopost.hooks.oktopost_async import OktopostAsyncClient, aget_client_config

    config = await aget_client_config("oktopost_default")
    async with OktopostAsyncClient(config) as client:
        while True:
            if clock.wall() >= end_time:
                return "timeout", clock.wall()
            wait = POLL
            try:
                integration = await client.get_integration(integration_id)
            except PERMANENT_ERRORS:
                return "error", clock.wall()
            except TRANSIENT_ERRORS as error:
                if isinstance(error, OktopostRateLimitError):
                    wait = max(wait, error.retry_after)
            else:
                if integration.matches("valid", "active"):
                    return "success", clock.wall()
            await clock.async_sleep(max(0.0, min(wait, end_time - clock.wall())))


async def new_trigger(integration_id: str, end_time: float) -> tuple[str, float]:
    from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

    trigger = OktopostIntegrationTrigger(integration_id, poll_interval=POLL, end_time=end_time)
    async for event in trigger.run():
        return str(event.payload["status"]), clock.wall()
    return "none", clock.wall()


async def scenario(mode: str) -> dict[str, Any]:
    import logging

    logging.disable(logging.WARNING)  # 1,000 waits log every reading at INFO; keep the output readable
    from airflow_provider_oktopost.hooks import oktopost_async

    sandbox = OktopostSandbox(rate_limit_per_minute=60).start()
    os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = sandbox.connection_json()
    config = await oktopost_async.aget_client_config("oktopost_default")

    async def cached(conn_id: str) -> Any:
        return config

    oktopost_async.aget_client_config = cached  # type: ignore[assignment]
    ids = [sandbox.add_integration(status="invalid")["Id"] for _ in range(N)]
    rng = random.Random(42)
    scaled = ScaledClock(FACTOR)
    scaled.install(sandbox)
    start = scaled.wall()
    ready_at = {i: start + rng.uniform(READY_FROM, READY_TO) for i in ids}
    sandbox.clear_requests()

    async def make_ready() -> None:
        for integration_id, moment in sorted(ready_at.items(), key=lambda item: item[1]):
            await clock.async_sleep(moment - clock.wall())
            sandbox.set_status(integration_id, "valid")

    rss0 = rss_mb()
    lag = LoopLag()
    lag.start()
    real0 = time.perf_counter()
    readiness = asyncio.ensure_future(make_ready())
    wait = new_trigger if mode == "poller" else old_trigger_loop
    results = await asyncio.gather(*(wait(i, start + CAP) for i in ids))
    real = time.perf_counter() - real0
    lag.stop()
    readiness.cancel()
    delays = [t - ready_at[i] for i, (status, t) in zip(ids, results, strict=True) if status == "success"]
    statuses = [status for status, _ in results]
    # What the old behaviour asks for: one read per trigger per interval until ready (or the cap).
    demanded = sum(int(min(ready_at[i] - start, CAP) // POLL) + 1 for i in ids)
    calls = sandbox.count()
    figures = {
        "mode": mode,
        "waits": N,
        "time_factor": FACTOR,
        "poll_interval_s": POLL,
        "simulated_s": round(clock.wall() - start, 1),
        "real_s": round(real, 1),
        "api_calls": calls,
        "reads_demanded_by_old_behaviour": demanded,
        "list_calls": sandbox.count("GET", r"/v2/integration"),
        "get_calls": sandbox.count("GET", r"/v2/integration/[^/]+"),
        "http_429": sum(1 for r in sandbox.requests if r.status == 429),
        "succeeded": statuses.count("success"),
        "timed_out": statuses.count("timeout"),
        "errors": statuses.count("error"),
        "detect_delay_median_s": round(median(delays), 1),
        "detect_delay_max_s": round(max(delays), 1) if delays else None,
        "added_rss_mb": round(lag.peak_rss - rss0, 1),
        "loop_lag_max_ms": round(1000 * max(lag.lags), 1),
        "loop_lag_p99_ms": round(1000 * percentile(lag.lags, 0.99), 1),
    }
    sandbox.stop()
    return figures


def main() -> None:
    mode = sys.argv[1]
    figures = asyncio.run(scenario(mode))
    print(json.dumps(figures, indent=1))
    emit("waits", **figures)


if __name__ == "__main__":
    main()
