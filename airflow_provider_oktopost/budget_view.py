"""Every account the budget store knows, as the Oktopost page, its JSON API and the command line show it.

Read-only: the store is asked for its picture of each account (``account_states()``)
and nothing is reserved or written. The store is the deployment's, as configured in Airflow's ``[oktopost]``
section (``budget_store``, ``budget_dir``...); a connection whose extras name another store is not seen here.
Nothing in the answer is secret: accounts are API host and Account ID, the store is shown without any
password its URL may carry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow_provider_oktopost._core.budget.memory import MemoryStore
from airflow_provider_oktopost._core.budget.rules import Grant
from airflow_provider_oktopost._core.budget.settings import BudgetSettings
from airflow_provider_oktopost._core.budget.snapshot import WAITS_PREFIX, AccountState


def iso(epoch: float) -> str:
    """``2026-12-07T14:32:05Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment_settings() -> BudgetSettings:
    """The budget settings of Airflow's ``[oktopost]`` section (no connection)."""
    from airflow_provider_oktopost._core.config import budget_settings

    return budget_settings("[oktopost]", {})


def accounts(settings: BudgetSettings | None = None) -> dict[str, Any]:
    """``{"store", "generated_at", "accounts": [...]}`` for every account the configured store knows."""
    from airflow_provider_oktopost._core.budget.registry import store_for

    settings = settings or deployment_settings()
    _, store = store_for(settings)
    states = store.account_states(settings.window)
    rows = [account_row(state, settings) for state in states]
    rows.sort(key=lambda row: (row["api_host"], row["account_id"]))
    generated = states[0]["now"] if states else datetime.now(UTC).timestamp()
    return {"store": repr(store), "generated_at": iso(generated), "accounts": rows}


def _number(notes: dict[str, str], name: str, default: float) -> float:
    try:
        return float(notes[name])
    except (KeyError, ValueError):
        return default


def account_row(state: AccountState, settings: BudgetSettings) -> dict[str, Any]:
    """One account, as the page and the JSON API show it."""
    notes, now = state["notes"], state["now"]
    per_minute = int(_number(notes, "per_minute", 0)) or None
    window = _number(notes, "window", settings.window)
    daily_limit = int(_number(notes, "daily_limit", settings.daily_limit))
    polling_limit = int(_number(notes, "polling_day_limit", daily_limit))
    last_429 = _number(notes, "last_429_at", 0.0)
    block = None
    if state["blocked_until"] > now:
        why = f"Oktopost answered 429 at {iso(last_429)}" if last_429 else "Oktopost answered 429"
        block = {
            "until": iso(state["blocked_until"]),
            "seconds_left": round(state["blocked_until"] - now),
            "why": why + f"; no process sends to the account until {iso(state['blocked_until'])}",
        }
    return {
        "api_host": notes.get("api_host", ""),
        "account_id": notes.get("account_id", ""),
        "calls_this_minute": {"used": state["minute"], "limit": per_minute, "window_seconds": window},
        "calls_today": {"used": state["today"], "limit": daily_limit, "polling_limit": polling_limit},
        "block": block,
        "last_429": iso(last_429) if last_429 else None,
        "polling": _polling(state["today"], per_minute, window, daily_limit, polling_limit, base=settings),
        "waits_in_flight": _waits(notes, now),
    }


def _polling(
    today: int, per_minute: int | None, window: float, daily: int, polling_limit: int, *, base: BudgetSettings
) -> dict[str, Any]:
    """Whether the triggerers' pollers are paced now, by the budget's own rule (``polling_pace``)."""
    from airflow_provider_oktopost._core.budget.account import AccountBudget

    share = 1 - polling_limit / daily if daily else base.share_for_other_tools
    settings = BudgetSettings(
        store="memory", window=window, daily_limit=daily, share_for_other_tools=min(max(share, 0.0), 0.99)
    )
    budget = AccountBudget("view", MemoryStore(), settings, per_minute or 1)
    budget.last_grant = Grant(0.0, True, today)
    pace = budget.polling_pace() if per_minute else 0.0
    if pace <= 0:
        return {"paced": False, "seconds_between_reads": 0, "why": "plenty of the day's calls are left"}
    left = max(0, polling_limit - today)
    why = (
        f"polling's share of the day ({polling_limit} calls) is used up until 00:00 UTC"
        if left == 0
        else f"{left} of polling's {polling_limit} calls are left today: spread until 00:00 UTC"
    )
    return {"paced": True, "seconds_between_reads": round(pace), "why": why}


def _waits(notes: dict[str, str], now: float) -> dict[str, Any] | None:
    """Waits held by the triggerers' pollers (fresh reports only), or None when no triggerer reported."""
    by_process: dict[str, int] = {}
    for name, value in notes.items():
        if name.startswith(WAITS_PREFIX):
            count, _, good_until = value.partition(" ")
            try:
                if float(good_until) >= now:
                    by_process[name.removeprefix(WAITS_PREFIX)] = int(count)
            except ValueError:
                continue
    if not by_process:
        return None
    return {"total": sum(by_process.values()), "triggerers": by_process}


# -- the command line: python -m airflow_provider_oktopost.budget_view [--json] ---------------------------


def text_table(data: dict[str, Any]) -> str:
    """The accounts as plain text (what ``python -m airflow_provider_oktopost.budget_view`` prints)."""
    header = ("ACCOUNT", "API HOST", "MINUTE", "TODAY", "BLOCK", "LAST 429", "POLLING", "WAITS")
    lines = [header]
    for row in data["accounts"]:
        minute, today, block, waits = (
            row["calls_this_minute"],
            row["calls_today"],
            row["block"],
            row["waits_in_flight"],
        )
        polling = row["polling"]
        lines.append(
            (
                row["account_id"],
                row["api_host"],
                f"{minute['used']}/{minute['limit'] or '?'}",
                f"{today['used']}/{today['limit']}",
                f"until {block['until']}" if block else "-",
                row["last_429"] or "-",
                f"paced: 1 read/{polling['seconds_between_reads']}s" if polling["paced"] else "normal",
                str(waits["total"]) if waits else "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )
    return f"Oktopost call budget, store {data['store']}, as of {data['generated_at']}\n{table}"


def main(argv: list[str] | None = None) -> int:
    """Print every account the configured budget store knows (``--json``: the page's JSON)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_oktopost.budget_view",
        description="Every Oktopost account in the deployment's call budget store ([oktopost] budget_store).",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the same JSON as GET /oktopost/api/accounts"
    )
    args = parser.parse_args(argv)
    data = accounts()
    print(json.dumps(data, indent=2) if args.json else text_table(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
