"""Benchmark: many accounts from one deployment (issue 20): accounts do not slow each other down.

A partner onboards ``ACCOUNTS`` customers, ``ONBOARDINGS`` custom domains each, every customer on its own
Oktopost account (its own connection, key and budget). One onboarding is what the onboarding chain does
for a host name, through ``OktopostHook``: register the CNAME, connect a ``cd`` integration on it, read
it back (3 calls). Every account's onboardings run one after another in a thread of their own (a worker
slot per customer); all threads start together, against the sandbox enforcing 60 calls a minute *per
account* and a 15-minute block after a 429. Partway through (after ``BLOCK_AFTER`` onboardings) the
first account is blocked by the sandbox, as if another tool had burst its key: its next call gets a 429,
after which it waits (as a deferral would) until the block is over and carries on.

Run twice, in the same process and run: ``per account`` (as above) and ``one account`` (the same
``ACCOUNTS x ONBOARDINGS`` onboardings, all on a single account, no block, through ``POOL`` worker threads,
the ``oktopost_api`` pool the examples recommend), which is what onboarding every customer from one key
would cost. One account's calls are bound by its budget, not by its workers: ``POOL`` threads can send far
more than 55 calls a "minute". (With 20 threads on one account, the sends of a loaded machine lag the
budget's slots by more than the budget's margin once time runs ``FACTOR`` times faster, and the sandbox
answers 429: a first attempt at this benchmark did so.)

Time runs ``FACTOR`` times faster for the provider's clock (its budget, retry and block waits) and the
sandbox's clock (its rate-limit window and block) alike (``bench/common.py``'s ``ScaledClock``): a
"minute" is ``60 / FACTOR`` real seconds; HTTP latency is stretched by the same factor, which only makes
the simulated times longer. The budget allows ``BUDGET`` calls a "minute" (``rate_limit_per_minute``; no
other tool uses these accounts; the default 50 keeps 10 for them). The budgets live in the machine-wide
store (the default). ``report_section`` writes the section of ``docs/performance.md`` from the ``RESULT``
lines.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from common import ScaledClock, emit

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost.testing.budget import reset_budgets

T = TypeVar("T")

FACTOR = float(os.environ.get("BENCH_PARTNERS_FACTOR", "4"))
ACCOUNTS = int(os.environ.get("BENCH_PARTNERS_ACCOUNTS", "20"))
ONBOARDINGS = int(os.environ.get("BENCH_PARTNERS_ONBOARDINGS", "25"))
BLOCK_AFTER = int(os.environ.get("BENCH_PARTNERS_BLOCK_AFTER", str(ONBOARDINGS // 2)))
LIMIT = 60  # the sandbox's calls a minute per account (Oktopost's)
BUDGET = 55  # the budget's calls a minute per account
WINDOW = 60.0  # simulated seconds
BLOCK = 900.0  # simulated seconds: Oktopost's block after a burst
#: Worker threads of the one-account run: the ``oktopost_api`` pool the examples recommend (4 slots).
POOL = int(os.environ.get("BENCH_PARTNERS_POOL", "4"))
CALLS_PER_ONBOARDING = 3


def _retrying(action: Callable[[], T], deferrals: list[float]) -> T:
    """Run ``action``; on a rate-limit refusal wait what it says (a deferral, sat out here), then again."""
    from airflow_provider_oktopost.exceptions import OktopostRateLimitError

    while True:
        try:
            return action()
        except OktopostRateLimitError as error:
            deferrals.append(error.retry_after)
            clock.sleep(error.retry_after + 1.0)


def _worker(
    conn_id: str,
    tag: str,
    count: int,
    start: threading.Barrier,
    block: Callable[[], None] | None,
    out: dict[str, Any],
) -> None:
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

    hook = OktopostHook(conn_id)
    _ = hook.config
    deferrals: list[float] = []
    start.wait()
    for n in range(count):
        if block is not None and n == BLOCK_AFTER:
            block()
        host = f"links{n}.{tag}.example"
        cname = _retrying(lambda host=host: hook.create_cname(host), deferrals)  # type: ignore[misc]
        made = _retrying(lambda cname=cname: hook.connect_integration("cd", cname.id), deferrals)  # type: ignore[misc]
        _retrying(lambda made=made: hook.get_integration(made.id), deferrals)  # type: ignore[misc]
    hook.close()
    out[tag] = {"deferrals": deferrals, "done": count}


def _burst_bound(calls: int) -> float:
    """Simulated seconds ``calls`` calls need at least at ``LIMIT`` a "minute", the first minute's at once."""
    return ((calls - 1) // LIMIT) * WINDOW if calls > 0 else 0.0


def run(variant: str, directory: str) -> dict[str, Any]:
    from airflow_provider_oktopost.testing import OktopostSandbox

    reset_budgets()
    with OktopostSandbox(rate_limit_per_minute=LIMIT, block_seconds=BLOCK) as sandbox:
        scaled = ScaledClock(FACTOR, start=time.time())
        scaled.install(sandbox)
        clock.sleep = lambda seconds: time.sleep(max(seconds, 0.0) / FACTOR)  # type: ignore[assignment]
        accounts = [(f"001bench{n:07d}", f"bench-key-{n}") for n in range(ACCOUNTS)]
        for account_id, key in accounts:
            sandbox.add_account(account_id, key)
        conns: list[str] = []
        for n, (account_id, key) in enumerate(accounts if variant == "per account" else accounts[:1]):
            conn = json.loads(sandbox.account_connection_json(account_id, key))
            conn["extra"] = {"budget_dir": directory, "rate_limit_per_minute": BUDGET}
            os.environ[f"AIRFLOW_CONN_OKTOPOST_BENCH_{n}"] = json.dumps(conn)
            conns.append(f"oktopost_bench_{n}")
        blocked_id = accounts[0][0]
        block_at: list[float] = []

        def block() -> None:
            block_at.append(sandbox.state.now())
            sandbox.block_account(blocked_id, BLOCK)

        workers = ACCOUNTS if variant == "per account" else POOL
        shares = [
            ACCOUNTS * ONBOARDINGS // workers + (n < ACCOUNTS * ONBOARDINGS % workers) for n in range(workers)
        ]
        barrier = threading.Barrier(workers + 1)
        out: dict[str, Any] = {}
        threads = [
            threading.Thread(
                target=_worker,
                args=(
                    conns[n % len(conns)],
                    f"c{n}",
                    shares[n],
                    barrier,
                    block if variant == "per account" and n == 0 else None,
                    out,
                ),
            )
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = sandbox.state.now()
        for thread in threads:
            thread.join()
        requests = sandbox.requests
        limited = sandbox.rate_limited_by_account()
        integrations = len(sandbox.integrations)
    per_account: list[dict[str, Any]] = []
    for account_id, _ in accounts if variant == "per account" else accounts[:1]:
        mine = [r for r in requests if r.account == account_id]
        ok = [r for r in mine if r.status == 200]
        finished = max(r.time for r in mine) - started
        entry: dict[str, Any] = {
            "account": account_id,
            "calls": len(ok),
            "finished_s": round(finished, 1),
            "physical_s": round(_burst_bound(len(ok)), 1),
            "ratio": round(finished / _burst_bound(len(ok)), 3) if _burst_bound(len(ok)) else None,
            "http_429": limited[account_id]["refused"],
            "over_limit_429": limited[account_id]["over_limit"],
        }
        if account_id == blocked_id and block_at:
            block_end = block_at[0] + BLOCK
            after = [r.time for r in ok if r.time >= block_at[0]]
            entry.update(
                blocked_at_s=round(block_at[0] - started, 1),
                block_end_s=round(block_end - started, 1),
                resumed_s=round(min(after) - started, 1) if after else None,
                calls_during_block=sum(1 for r in mine if block_at[0] <= r.time < block_end),
            )
        per_account.append(entry)
    return {
        "variant": variant,
        "accounts": ACCOUNTS if variant == "per account" else 1,
        "workers": workers,
        "onboardings": ACCOUNTS * ONBOARDINGS,
        "onboardings_done": sum(v["done"] for v in out.values()),
        "integrations": integrations,
        "calls_per_onboarding": CALLS_PER_ONBOARDING,
        "finished_s": round(max(a["finished_s"] for a in per_account), 1),
        "over_limit_429": sum(a["over_limit_429"] for a in per_account),
        "per_account": per_account,
        "factor": FACTOR,
        "window_s": WINDOW / FACTOR,
        "block_s": BLOCK / FACTOR,
        "budget_per_minute": BUDGET,
        "limit_per_minute": LIMIT,
        "block_after": BLOCK_AFTER,
    }


# ---- the report section -----------------------------------------------------------------------------------


def _minutes(simulated_s: Any) -> str:
    return f"{float(simulated_s) / 60:.2f}"


def report_section(results: list[dict[str, Any]]) -> str:
    """The partners section of docs/performance.md; every figure and verdict comes from ``results``."""
    lines = ["## Many accounts from one deployment (`bench/partners.py`)", ""]
    runs = {r["variant"]: r for r in results if "variant" in r}
    per, one = runs.get("per account"), runs.get("one account")
    if per is None:
        return "\n".join([*lines, "Not run.", ""])
    accounts = per["per_account"]
    blocked, others = accounts[0], accounts[1:]
    worst = max(others, key=lambda a: a["ratio"] or 0.0) if others else None
    within = bool(others) and all(a["ratio"] is not None and a["ratio"] <= 1.2 for a in others)
    no_429 = per["over_limit_429"] == 0 and (one is None or one["over_limit_429"] == 0)
    resumed = blocked.get("resumed_s")
    resumes = resumed is not None and resumed >= blocked["block_end_s"]
    lines += [
        f"{per['accounts']} customer accounts x {per['onboardings'] // per['accounts']} onboardings each "
        f"({per['calls_per_onboarding']} calls per onboarding: register the CNAME, connect, read back; one "
        f"thread per account), against the sandbox enforcing {per['limit_per_minute']} calls a minute per "
        f"account and a 15-minute block. The first account is blocked by the sandbox after "
        f"{per['block_after']} of its onboardings. Time runs {per['factor']:g} times faster for the sandbox "
        f'and the provider alike: a "minute" is {per["window_s"]:g} real seconds and the block '
        f"{per['block_s']:g}; all times below are simulated minutes. Each account's budget allows "
        f'{per["budget_per_minute"]} calls a "minute". An account\'s physical limit is the time its calls '
        f"need at {per['limit_per_minute']} a minute when the first minute's go at once.",
        "",
        "| run | onboardings done | slowest account (min) | 429s from going over a limit |",
        "|---|---|---|---|",
        f"| one account per customer | {per['onboardings_done']}/{per['onboardings']} | "
        f"{_minutes(per['finished_s'])} | {per['over_limit_429']} |",
    ]
    if one is not None:
        lines.append(
            f"| every customer on one account ({one['workers']} worker threads) | "
            f"{one['onboardings_done']}/{one['onboardings']} | "
            f"{_minutes(one['finished_s'])} | {one['over_limit_429']} |"
        )
    lines += [
        "",
        "| account | calls | finished (min) | physical limit (min) | ratio | 429s |",
        "|---|---|---|---|---|---|",
        *[
            f"| {a['account']}{' (blocked)' if a is blocked else ''} | {a['calls']} | "
            f"{_minutes(a['finished_s'])} | {_minutes(a['physical_s'])} | {a['ratio']} | {a['http_429']} |"
            for a in accounts
        ],
        "",
        f"- 0 x 429 from the provider going over a limit: {verdict(no_429)} "
        f"({per['over_limit_429']} in the per-account run"
        + (f", {one['over_limit_429']} with every customer on one account" if one is not None else "")
        + f"; the blocked account's {blocked['http_429']} 429(s) are the sandbox's answers to its block).",
    ]
    if worst is not None:
        lines.append(
            f"- Every other account within 1.2x of its own physical limit: {verdict(within)} (the slowest, "
            f"{worst['account']}, {worst['ratio']}x: {_minutes(worst['finished_s'])} against "
            f"{_minutes(worst['physical_s'])} minutes)."
        )
    if resumed is not None:
        lines.append(
            f"- The blocked account resumes when its block ends: {verdict(resumes)} (blocked at minute "
            f"{_minutes(blocked['blocked_at_s'])}, block over at minute {_minutes(blocked['block_end_s'])}, "
            f"first call answered after it at minute {_minutes(resumed)}; "
            f"{blocked['calls_during_block']} call(s) reached the sandbox during the block)."
        )
    if one is not None and worst is not None:
        lines.append(
            f"- With every customer on one account the same {one['onboardings']} onboardings take "
            f"{_minutes(one['finished_s'])} minutes: "
            f"{float(one['finished_s']) / float(worst['finished_s']):.1f}x the slowest account of the "
            f"per-account run that was not blocked ({_minutes(worst['finished_s'])} minutes)."
        )
    return "\n".join([*lines, ""])


def verdict(ok: bool) -> str:
    """The report's wording for a goal (as ``bench/report.py`` writes it)."""
    return "met" if ok else "**not met**"


def main() -> None:
    for variant in ("per account", "one account"):
        with tempfile.TemporaryDirectory(prefix="oktopost-partners-") as directory:
            figures = run(variant, directory)
        print(json.dumps({k: v for k, v in figures.items() if k != "per_account"}, indent=1), flush=True)
        emit("partners", **figures)


if __name__ == "__main__":
    main()
