"""Benchmark: what a bulk onboarding of 500 CNAMEs costs on an account that already has 500 integrations.

The REAL operators, against the sandbox enforcing Oktopost's limit (60 calls a minute, then a 15-minute
block), with the account's budget in the machine-wide store (the default):

1. ``connect`` (as ``example_oktopost_bulk_onboarding`` maps it: ``if_exists="reuse"``, here
   ``deferrable=True``): ``OktopostConnectIntegrationOperator.execute`` for each CNAME, one after the other
   (the budget is the same whether the mapped tasks run in one process or many: see ``bench/fleet.py``).
   A deferral for the budget is sat out in place, as the wait trigger would.
2. ``wait_until_ready`` (``deferrable=True``, ``poke_interval=30``): ``OktopostIntegrationSensor.execute``
   for each integration, which defers at once; then every trigger runs in one event loop (one triggerer)
   while the integrations become valid ``VALIDATION_DELAY`` seconds after they were created.

Run twice in the same process: with the deployment's shared listing (the default ``listing_ttl``), and with
``listing_ttl=0`` (every connect lists the type itself, as 0.1 did), the baseline. Time is simulated: the
provider's clock, its budget and the sandbox's clock run ``FACTOR`` times faster than real time (HTTP
latency is stretched by the same factor, which only makes the simulated times longer).
``report_section`` writes the section of ``docs/performance.md`` from the ``RESULT`` lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from typing import Any

from common import ScaledClock, emit

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost._core.budget.settings import ARRIVAL_ALLOWANCE_SHARE, DEFAULT_PER_MINUTE
from airflow_provider_oktopost.testing.budget import reset_budgets

N = int(os.environ.get("BENCH_ONBOARD_N", "500"))
#: Seconds the budget spreads its rate over: a minute and the arrival allowance.
SPAN = 60 * (1 + ARRIVAL_ALLOWANCE_SHARE)
EXISTING = int(os.environ.get("BENCH_ONBOARD_EXISTING", "500"))
FACTOR = float(os.environ.get("BENCH_ONBOARD_FACTOR", "60"))
VALIDATION_DELAY = 120.0
LIMIT = 60


class _TI:
    try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def _connect(cname: str) -> tuple[str, int]:
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_oktopost.operators.oktopost import OktopostConnectIntegrationOperator

    op = OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="cd", cname_id=cname, if_exists="reuse", deferrable=True
    )
    context: Any = {"ti": _TI()}
    deferrals = 0
    try:
        return str(op.execute(context)), deferrals
    except TaskDeferred as first:
        deferred = first
    while True:  # what the wait trigger does: sleep until the moment, then resume
        deferrals += 1
        clock.sleep(float(deferred.trigger.moment) - clock.wall())
        try:
            event = {"status": "resume", "payload": deferred.trigger.payload}
            return str(op.resume_after_rate_limit(context, event)), deferrals
        except TaskDeferred as again:
            deferred = again


async def _waits(triggers: list[Any]) -> list[str]:
    async def one(trigger: Any) -> str:
        async for event in trigger.run():
            return str(event.payload["status"])
        return "no event"

    return list(await asyncio.gather(*(one(t) for t in triggers)))


def run(variant: str, listing_ttl: float, directory: str) -> dict[str, Any]:
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor
    from airflow_provider_oktopost.testing import OktopostSandbox

    reset_budgets()
    with OktopostSandbox(rate_limit_per_minute=LIMIT, validation_delay=VALIDATION_DELAY) as sandbox:
        for n in range(EXISTING):
            sandbox.add_integration(type="cd", cname_id=f"0CNold{n:09d}", status="valid")
        scaled = ScaledClock(FACTOR, start=time.time())
        scaled.install(sandbox)
        clock.sleep = lambda seconds: time.sleep(max(seconds, 0.0) / FACTOR)  # type: ignore[assignment]
        conn = sandbox.connection_dict()
        conn["extra"] = {"budget_dir": directory, "listing_ttl": listing_ttl}
        os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = json.dumps(conn)
        started = clock.wall()
        ids, deferrals = [], 0
        for n in range(N):
            integration_id, waited = _connect(f"0CNnew{n:09d}")
            ids.append(integration_id)
            deferrals += waited
        connect_calls = sandbox.count()
        connect_lists = sandbox.count("GET", r"/v2/integration")
        triggers = []
        for integration_id in ids:
            sensor = OktopostIntegrationSensor(
                task_id="wait", integration_id=integration_id, deferrable=True, poke_interval=30, timeout=7200
            )
            try:
                sensor.execute({"ti": _TI()})
            except TaskDeferred as deferred:
                triggers.append(deferred.trigger)
        sensor_calls = sandbox.count() - connect_calls
        statuses = asyncio.run(_waits(triggers))
        elapsed = clock.wall() - started
        total = sandbox.count()
        refused = sandbox.rate_limited_count
        wait_calls = total - connect_calls - sensor_calls
    per_minute = DEFAULT_PER_MINUTE
    return {
        "variant": variant,
        "listing_ttl": listing_ttl,
        "cnames": N,
        "existing": EXISTING,
        "connect_calls": connect_calls,
        "connect_list_calls": connect_lists,
        "connect_calls_per_integration": round(connect_calls / N, 2),
        "connect_deferrals": deferrals,
        "sensor_calls_from_workers": sensor_calls,
        "trigger_wait_calls": wait_calls,
        "total_calls": total,
        "calls_per_integration": round(total / N, 2),
        "wait_calls_per_integration": round(wait_calls / N, 3),
        "connected": len(set(ids)),
        "succeeded": statuses.count("success"),
        "http_429": refused,
        "simulated_s": round(elapsed, 1),
        "physical_s": round(total / LIMIT * 60, 1),
        "budget_s": round(total / per_minute * SPAN, 1),
        "factor": FACTOR,
    }


def main() -> None:
    for variant, ttl in (("shared listing", 600.0), ("listing per connect (baseline)", 0.0)):
        with tempfile.TemporaryDirectory(prefix="oktopost-onboarding-") as directory:
            figures = run(variant, ttl, directory)
        print(json.dumps(figures, indent=1), flush=True)
        emit("onboarding", **figures)


def report_section(results: list[dict[str, Any]]) -> str:
    """The onboarding section of docs/performance.md; every figure and verdict comes from ``results``."""
    lines = ["## Onboarding cost (`bench/onboarding.py`)", ""]
    runs = [r for r in results if "variant" in r]
    if not runs:
        return "\n".join([*lines, "Not run.", ""])
    first = runs[0]
    lines += [
        f"{first['cnames']} CNAMEs onboarded with the real connect operator and deferrable sensor on an "
        f"account that already has {first['existing']} integrations of the type, against the sandbox "
        f"enforcing {LIMIT} calls a minute and the 15-minute block, the budget in the machine-wide store. "
        f"Simulated time ({first['factor']:g} times faster than real for the provider, its budget and the "
        "sandbox alike). The physical limit is calls / 60 a minute; the budget's own limit is calls / "
        f"{DEFAULT_PER_MINUTE} per {SPAN:g} s (it leaves the rest for the "
        "account's other tools, and 2 s of each minute for calls that arrive late).",
        "",
        "| connect looks at | calls per integration | connect calls (of which listing pages) | calls "
        "from workers' sensors | wait calls | 429s | integrations ready | simulated time (s) | physical "
        "limit (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['variant']} | {r['calls_per_integration']} | {r['connect_calls']} "
            f"({r['connect_list_calls']}) | {r['sensor_calls_from_workers']} | {r['trigger_wait_calls']} | "
            f"{r['http_429']} | {r['succeeded']}/{r['cnames']} | {r['simulated_s']} | {r['physical_s']} |"
        )
    lines.append("")
    shared = next((r for r in runs if r["listing_ttl"] > 0), None)
    base = next((r for r in runs if r["listing_ttl"] == 0), None)
    if shared is not None:
        connect_ok = shared["connect_calls_per_integration"] <= 3
        lines.append(
            f"- With the shared listing, connecting cost {shared['connect_calls_per_integration']} calls per "
            f"integration (goal at most 3: {'met' if connect_ok else 'NOT met'}), plus "
            f"{shared['wait_calls_per_integration']} per integration for the waits; "
            f"{shared['http_429']} x 429; the run took {shared['simulated_s']} simulated seconds against a "
            f"physical limit of {shared['physical_s']} s ({shared['budget_s']} s at the budget's own rate)."
        )
    for r in runs:
        real = r["simulated_s"] / r["factor"]
        lines.append(
            f"- {r['variant']}: at {r['factor']:g}x, every call's real latency counts {r['factor']:g} "
            f"times in simulated time. The {r['total_calls']} calls took {real:.0f} real seconds in all, "
            f"{real / r['total_calls'] * 1000:.0f} ms per call on this machine (1-minute load "
            f"{r.get('load_1m', 'unknown')} at the end), which is "
            f"{real / r['total_calls'] * r['factor'] / (60 / DEFAULT_PER_MINUTE):.1f}x the budget's "
            "pace of one call per 1.2 simulated seconds: where that is above 1, the machine, not the budget, "
            "set the simulated time."
        )
    if shared is not None and base is not None and shared["total_calls"]:
        lines.append(
            f"- The baseline measured in the same run (every connect lists the type itself, as 0.1 did) made "
            f"{base['total_calls']} calls, {base['total_calls'] / shared['total_calls']:.1f}x as many, and "
            f"took {base['simulated_s']} simulated seconds."
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
