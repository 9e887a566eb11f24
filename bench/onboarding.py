"""Benchmark 4: API calls per onboarded integration for ``example_oktopost_bulk_onboarding`` with 500 CNAMEs.

Method (no Airflow scheduler; the same code paths the DAG's tasks run, against the sandbox over HTTP):

1. ``connect`` (mapped, ``if_exists="reuse"``): for each CNAME, what the operator's ``execute`` does:
   ``find_integrations`` (lists every ``cd`` integration), ``connect_integration`` (POST),
   ``get_integration``.
2. ``wait_until_ready`` (mapped, ``deferrable=True``): the sensor's first check in the worker
   (one ``GET``), then an ``OktopostIntegrationTrigger`` per integration, all in one event loop as in one
   triggerer, while the integrations become valid at random moments over 5 minutes (simulated time,
   ``BENCH_TIME_FACTOR`` times faster than real; poke_interval 30 s as in the DAG).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from typing import Any

from common import ScaledClock, emit

from airflow_provider_oktopost.core import clock
from airflow_provider_oktopost.testing import OktopostSandbox

N = int(os.environ.get("BENCH_ONBOARD_N", "500"))
FACTOR = float(os.environ.get("BENCH_TIME_FACTOR", "20"))


async def waits(ids: list[str], sandbox: OktopostSandbox) -> list[str]:
    from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

    scaled = ScaledClock(FACTOR)
    scaled.install(sandbox)
    start = scaled.wall()
    rng = random.Random(7)
    ready_at = sorted((start + rng.uniform(10, 300), i) for i in ids)

    async def make_ready() -> None:
        for moment, integration_id in ready_at:
            await clock.async_sleep(moment - clock.wall())
            sandbox.set_status(integration_id, "valid")

    async def one(integration_id: str) -> str:
        trigger = OktopostIntegrationTrigger(integration_id, poll_interval=30, end_time=start + 7200)
        async for event in trigger.run():
            return str(event.payload["status"])
        return "none"

    readiness = asyncio.ensure_future(make_ready())
    statuses = await asyncio.gather(*(one(i) for i in ids))
    readiness.cancel()
    return list(statuses)


def main() -> None:
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

    cnames = [f"0CN{n:012d}" for n in range(N)]
    with OktopostSandbox(rate_limit_per_minute=None) as sandbox:
        conn: dict[str, Any] = dict(sandbox.connection_dict(), extra={"rate_limit_per_minute": 1_000_000})
        os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = json.dumps(conn)
        hook = OktopostHook()
        ids = []
        for cname in cnames:  # the connect operator's execute, if_exists="reuse", first try
            existing = hook.find_integrations("cd", cname)
            chosen = existing[0].id if existing else hook.connect_integration("cd", cname).id
            hook.get_integration(chosen)
            ids.append(chosen)
        connect_calls = sandbox.count()
        connect_lists = sandbox.count("GET", r"/v2/integration")
        for integration_id in ids:
            sandbox.set_status(integration_id, "invalid")  # not validated yet when the sensors start
        for integration_id in ids:  # the deferrable sensor's first check, in the worker
            hook.get_integration(integration_id)
        poke_calls = sandbox.count() - connect_calls
        hook.close()
        sandbox.configure(rate_limit_per_minute=60)
        conn["extra"] = {}
        os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = json.dumps(conn)
        before = sandbox.count()
        statuses = asyncio.run(waits(ids, sandbox))
        wait_calls = sandbox.count() - before
        rate_limited = sum(1 for r in sandbox.requests if r.status == 429)
    total = connect_calls + poke_calls + wait_calls
    figures = {
        "cnames": N,
        "connect_calls": connect_calls,
        "connect_list_calls": connect_lists,
        "sensor_first_check_calls": poke_calls,
        "trigger_wait_calls": wait_calls,
        "total_calls": total,
        "calls_per_integration": round(total / N, 2),
        "wait_calls_per_integration": round(wait_calls / N, 3),
        "succeeded": statuses.count("success"),
        "http_429": rate_limited,
    }
    print(json.dumps(figures, indent=1))
    emit("onboarding", **figures)


if __name__ == "__main__":
    main()
