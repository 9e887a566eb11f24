"""Benchmark: one Oktopost call budget for a fleet of processes (issue 9).

A deployment in miniature, with REAL processes: 40 connect tasks, each its own process running
``OktopostConnectIntegrationOperator.execute`` (``if_exists="reuse"``, ``deferrable=True``), at most 4 at a
time (a pool of 4 slots), and 2 triggerer-like processes, each an event loop running 500
``OktopostIntegrationTrigger`` waits (``poll_interval`` 30 s) on integrations that become valid at random
moments over the first two minutes. The sandbox enforces Oktopost's limit: 60 calls a minute, then a
15-minute block. The budget is set to 55 calls a minute (``rate_limit_per_minute``): no other tool uses the
benchmark's account, and the default of 50, which keeps 10 a minute for the account's other tools, would
by itself make the run 1.2 times the physical limit. The workload is bound by calls, not by the moments the
integrations turn valid: the tasks' and the waits' calls take longer than the readiness spread. Run once
per budget store:

- ``memory``: every process keeps its own budget (the 0.1 behaviour, the baseline);
- ``local``: the machine-wide SQLite store (the default);
- ``redis``: a ``redis-server`` of its own on 127.0.0.1 (skipped when ``redis-server`` is not installed).

Time runs faster, honestly: the sandbox and the budget both count a "minute" of ``60 / FACTOR`` real seconds
(``rate_window_seconds`` / the test-only ``OKTOPOST_TESTING_BUDGET_WINDOW_SECONDS``), the block lasts ``900 /
FACTOR`` seconds, and every other duration (poll interval, readiness spread, deadlines) is divided by
``FACTOR`` too. The day is not scaled (the store counts UTC days), so the daily limit is multiplied by
``FACTOR`` instead. The one duration that is not scaled is the provider's own assumption about a 429 without
``Retry-After`` (15 real minutes): a task whose deferral would last longer than two "minutes" is counted as
not done (it would sit out the block), and the triggers' deadline (20 "minutes") ends the waits that would.
Task processes are forked from a pre-loaded server (``forkserver``), as the LocalExecutor forks its task
supervisors, so that interpreter start-up does not hide the budget. A deferral is emulated by the task process
sleeping until the wait trigger's moment while keeping its pool slot (which overstates the time, never
understates it).

``report_section`` turns the ``RESULT`` lines into the section of ``docs/performance.md``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from common import emit

from airflow_provider_oktopost._core.budget.settings import ARRIVAL_ALLOWANCE_SHARE, TESTING_WINDOW_ENV
from airflow_provider_oktopost._core.budget.settings import DEFAULT_PER_MINUTE as DEFAULT_BUDGET

FACTOR = float(os.environ.get("BENCH_FLEET_FACTOR", "6"))
WINDOW = 60.0 / FACTOR
#: How much slower than its rate a full budget goes: a minute plus the arrival allowance per rate's calls.
SLOWER = 1 + ARRIVAL_ALLOWANCE_SHARE
BLOCK = 900.0 / FACTOR
TASKS = int(os.environ.get("BENCH_FLEET_TASKS", "40"))
POOL = 4
TRIGGERERS = 2
WAITS = int(os.environ.get("BENCH_FLEET_WAITS", "500"))
POLL = 30.0 / FACTOR
READY_SPREAD = 120.0 / FACTOR
#: The day is not scaled (the store counts UTC days): the daily limit is, so that a day still holds as many
#: "minutes" of calls as Oktopost's 20,000 do.
DAILY_LIMIT = int(20_000 * FACTOR)
#: The budget's calls a minute (the default, 50, keeps 10 for other tools; this account has none).
BUDGET = int(os.environ.get("BENCH_FLEET_BUDGET", "55"))
DEADLINE = 1200.0 / FACTOR
SANDBOX_LIMIT = 60
STORES = ("memory", "local", "redis")

_PRELOAD = [
    "airflow_provider_oktopost.operators.oktopost",
    "airflow_provider_oktopost.triggers.oktopost",
    "airflow_provider_oktopost.triggers._poller",
    "airflow_provider_oktopost._core.budget.local_disk",
]


class _TI:
    try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def connect_task(conn_json: str, cname: str, out: Queue[Any]) -> None:
    """One task process: the connect operator's execute, with deferrals sat out in place."""
    os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = conn_json
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_oktopost.operators.oktopost import OktopostConnectIntegrationOperator

    op = OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="cd", cname_id=cname, if_exists="reuse", deferrable=True
    )
    context: Any = {"ti": _TI()}
    begun = time.time()
    deferrals = 0
    outcome = "ok"
    try:
        try:
            op.execute(context)
        except TaskDeferred as deferred:
            while True:
                deferrals += 1
                moment = float(deferred.trigger.moment)
                if moment - time.time() > 2 * WINDOW:
                    outcome = f"would defer {moment - time.time():.0f}s (a 429 block)"
                    break
                time.sleep(max(0.0, moment - time.time()))
                event = {"status": "resume", "payload": deferred.trigger.payload}
                try:
                    op.resume_after_rate_limit(context, event)
                    break
                except TaskDeferred as again:
                    deferred = again
    except Exception as error:
        outcome = type(error).__name__
    out.put(("task", outcome, deferrals, begun, time.time()))


def triggerer(conn_json: str, ids: list[str], deadline: float, out: Queue[Any]) -> None:
    """One triggerer-like process: an event loop running a wait trigger per integration."""
    os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = conn_json
    import asyncio

    from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

    async def one(integration_id: str) -> str:
        trigger = OktopostIntegrationTrigger(integration_id, poll_interval=POLL, end_time=deadline)
        async for event in trigger.run():
            return str(event.payload["status"])
        return "no event"

    async def all_waits() -> list[str]:
        return list(await asyncio.gather(*(one(i) for i in ids)))

    begun = time.time()
    outcomes = dict(Counter(asyncio.run(all_waits())))
    out.put(("triggerer", outcomes, 0, begun, time.time()))


def _noop() -> None:
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis(directory: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = _free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""]
    process = subprocess.Popen([*argv, "--appendonly", "no"], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.terminate()
    return None


def scenario(store: str, store_url: str, directory: Path) -> dict[str, Any]:
    from airflow_provider_oktopost.testing import OktopostSandbox

    spawn = multiprocessing.get_context("forkserver")
    spawn.set_forkserver_preload(_PRELOAD)
    warm = spawn.Process(target=_noop)  # start the fork server (it imports the provider) before the clock
    warm.start()
    warm.join()
    rng = random.Random(9)
    with OktopostSandbox(
        rate_limit_per_minute=SANDBOX_LIMIT, rate_window_seconds=WINDOW, block_seconds=BLOCK
    ) as sandbox:
        waited = [
            sandbox.add_integration(type="cd", cname_id=f"0CNwait{n:08d}", status="invalid")["Id"]
            for n in range(TRIGGERERS * WAITS)
        ]
        conn = sandbox.connection_dict()
        conn["extra"] = {
            "budget_store": store_url,
            "rate_limit_per_minute": BUDGET,
            "daily_limit": DAILY_LIMIT,
            "budget_dir": str(directory / store),
            "budget_max_wait": WINDOW * SLOWER,  # the longest turn
        }
        conn_json = json.dumps(conn)
        started = time.time()
        ready_at = sorted((started + rng.uniform(10 / FACTOR, READY_SPREAD), i) for i in waited)
        stop = threading.Event()

        def make_ready() -> None:
            for moment, integration_id in ready_at:
                if stop.wait(max(0.0, moment - time.time())):
                    return
                sandbox.set_status(integration_id, "valid")

        readiness = threading.Thread(target=make_ready, daemon=True)
        readiness.start()
        out = spawn.Queue()
        processes = [
            spawn.Process(
                target=triggerer,
                args=(conn_json, waited[k * WAITS : (k + 1) * WAITS], started + DEADLINE, out),
            )
            for k in range(TRIGGERERS)
        ]
        for process in processes:
            process.start()
        pending = [f"0CNtask{n:08d}" for n in range(TASKS)]
        running: list[Any] = []
        while pending or running:
            running = [p for p in running if p.is_alive()]
            while pending and len(running) < POOL:  # the pool: at most 4 task processes at a time
                process = spawn.Process(target=connect_task, args=(conn_json, pending.pop(0), out))
                process.start()
                running.append(process)
                processes.append(process)
            time.sleep(0.05)
        results = [out.get(timeout=DEADLINE + 60) for _ in range(TASKS + TRIGGERERS)]
        for process in processes:
            process.join(timeout=30)
        wall = time.time() - started
        stop.set()
        calls = sandbox.count()
        refused = sandbox.rate_limited_count
        last_ready = ready_at[-1][0] - started
    tasks = Counter(outcome for kind, outcome, *_ in results if kind == "task")
    waits: Counter[str] = Counter()
    for kind, outcome, *_ in results:
        if kind == "triggerer":
            waits.update(outcome)
    task_times = [(b - started, e - started) for kind, _, _, b, e in results if kind == "task"]
    waits_end = max(e - started for kind, _, _, _, e in results if kind == "triggerer")
    physical = calls / SANDBOX_LIMIT * WINDOW
    return {
        "store": store,
        "factor": FACTOR,
        "window_s": WINDOW,
        "block_s": BLOCK,
        "budget_per_minute": BUDGET,
        "tasks": TASKS,
        "pool": POOL,
        "tasks_ok": tasks.get("ok", 0),
        "task_outcomes": dict(tasks),
        "deferrals": sum(d for kind, _, d, *_ in results if kind == "task"),
        "tasks_end_s": round(max(e for _, e in task_times), 1),
        "task_median_s": round(sorted(e - b for b, e in task_times)[len(task_times) // 2], 2),
        "waits_end_s": round(waits_end, 1),
        "triggerers": TRIGGERERS,
        "waits": TRIGGERERS * WAITS,
        "waits_ok": waits.get("success", 0),
        "wait_outcomes": dict(waits),
        "calls": calls,
        "http_429": refused,
        "wall_s": round(wall, 1),
        "physical_s": round(physical, 1),
        "last_ready_s": round(last_ready, 1),
        "ratio_to_physical": round(wall / physical, 2) if physical else None,
    }


def main() -> None:
    os.environ[TESTING_WINDOW_ENV] = str(WINDOW)  # the budget's "minute", in every process started below
    stores = [s for s in os.environ.get("BENCH_FLEET_STORES", ",".join(STORES)).split(",") if s]
    with tempfile.TemporaryDirectory(prefix="oktopost-fleet-") as tmp:
        directory = Path(tmp)
        for store in stores:
            server = None
            url = store
            if store == "redis":
                server = _redis(directory)
                if server is None:
                    emit("fleet", store="redis", skipped="redis-server is not installed")
                    continue
                url = server[1]
            try:
                figures = scenario(store, url, directory)
            finally:
                if server is not None:
                    server[0].terminate()
                    server[0].wait(timeout=10)
            print(json.dumps(figures, indent=1), flush=True)
            emit("fleet", **figures)


# ---- the report section -----------------------------------------------------------------------------------


def _row(r: dict[str, Any]) -> str:
    return (
        f"| {r['store']} | {r['tasks_ok']}/{r['tasks']} | {r['waits_ok']}/{r['waits']} | {r['calls']} | "
        f"{r['http_429']} | {r['wall_s']} | {r['physical_s']} | {r['ratio_to_physical']} |"
    )


def _burst_bound(r: dict[str, Any]) -> float:
    """Seconds the run's calls need at least when the first minute's calls all go at once."""
    return max(0, r["calls"] - SANDBOX_LIMIT) / SANDBOX_LIMIT * r["window_s"]


def report_section(results: list[dict[str, Any]]) -> str:
    """The fleet section of docs/performance.md; every figure and verdict comes from ``results``."""
    runs = {r["store"]: r for r in results if "skipped" not in r}
    skipped = [r for r in results if "skipped" in r]
    lines = ["## One budget for a fleet of processes (`bench/fleet.py`)", ""]
    if not runs:
        return "\n".join([*lines, "Not run.", ""])
    any_run = next(iter(runs.values()))
    lines += [
        f"{any_run['tasks']} connect task processes through a pool of {any_run['pool']} slots, plus "
        f"{any_run['triggerers']} triggerer-like processes with {any_run['waits'] // any_run['triggerers']} "
        f"waits each, against the sandbox enforcing {SANDBOX_LIMIT} calls a minute and a 15-minute block. "
        f'Time runs {any_run["factor"]:g} times faster for the sandbox and the budget alike: a "minute" is '
        f"{any_run['window_s']:g} real seconds and the block {any_run['block_s']:g} (see the module "
        "docstring for what is scaled and how deferrals are emulated). The physical limit is calls made "
        f'/ {SANDBOX_LIMIT} per "minute". The budget allows {any_run["budget_per_minute"]} calls a '
        f'"minute" (`rate_limit_per_minute`; no other tool uses this account): at that pace the calls '
        f"alone take {SANDBOX_LIMIT / any_run['budget_per_minute'] * SLOWER:.2f}x the physical limit, with "
        f"the budget's arrival allowance (the default {DEFAULT_BUDGET}, which keeps a share for other tools, "
        f"would take {SANDBOX_LIMIT / DEFAULT_BUDGET * SLOWER:.2f}x).",
        "",
        "| budget store | tasks done | waits done | calls | 429s | wall (s) | physical limit (s) | ratio |",
        "|---|---|---|---|---|---|---|---|",
        *[_row(runs[s]) for s in STORES if s in runs],
        "",
    ]
    for store in ("local", "redis"):
        r = runs.get(store)
        if r is None:
            continue
        all_done = r["tasks_ok"] == r["tasks"] and r["waits_ok"] == r["waits"]
        within = r["ratio_to_physical"] is not None and r["ratio_to_physical"] <= 1.2
        lines.append(
            f"- `{store}`: {r['http_429']} x 429 (goal 0: {'met' if r['http_429'] == 0 else 'NOT met'}); "
            f"{r['tasks_ok']} of {r['tasks']} tasks and {r['waits_ok']} of {r['waits']} waits succeeded "
            f"(goal all: {'met' if all_done else 'NOT met'}); {r['wall_s']} s for {r['calls']} calls, "
            f"{r['ratio_to_physical']}x the physical limit of {r['physical_s']} s (goal at most 1.2x: "
            f"{'met' if within else 'NOT met'}). A sliding minute lets the first {SANDBOX_LIMIT} calls go at "
            f"once, so these calls needed at least {_burst_bound(r):.1f} s and a ratio below 1 is possible. "
            f"The last integration became valid after {r['last_ready_s']} s "
            f"({r['last_ready_s'] / r['wall_s']:.0%} of the run)."
        )
    base = runs.get("memory")
    if base is not None:
        lines.append(
            "- `memory` (every process its own budget, the 0.1 behaviour, same run): "
            f"{base['http_429']} x 429, {base['tasks_ok']} of {base['tasks']} tasks and "
            f"{base['waits_ok']} of {base['waits']} waits succeeded; task outcomes "
            f"{base['task_outcomes']}, wait outcomes {base['wait_outcomes']}."
        )
    for r in skipped:
        lines.append(f"- `{r['store']}` was not run: {r['skipped']}.")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
