"""The budgets of this process: one :class:`~.account.AccountBudget` per store and account, one store object
per store.

:func:`budget_for` is how every part of the provider gets an account's budget (the operations' context, the
triggerer's poller, the task-log words of a deferral): it opens the configured store once per process
(:func:`open_store`; :mod:`.selection` says which one ``auto`` means) and hands every connection to the
same account the same budget object, so that they share its fallbacks and its view of a store that is down.
"""

from __future__ import annotations

import threading

from airflow_provider_oktopost._core.budget import report
from airflow_provider_oktopost._core.budget.account import AccountBudget, account_key
from airflow_provider_oktopost._core.budget.memory import MemoryStore
from airflow_provider_oktopost._core.budget.selection import announce, choose
from airflow_provider_oktopost._core.budget.settings import DEFAULT_PER_MINUTE, BudgetSettings
from airflow_provider_oktopost._core.budget.store import Store

#: The stores this process opened, by name (``memory``, ``local:<directory>`` or the Redis URL).
STORES: dict[str, Store] = {}
#: The budgets this process made, by (store name, account key).
BUDGETS: dict[tuple[str, str], AccountBudget] = {}
#: Held while either is read or changed.
LOCK = threading.RLock()


def open_store(spec: str, settings: BudgetSettings) -> tuple[str, Store]:
    """(name, store) of the store ``spec`` names (``memory``, ``local`` or a Redis URL), opened once."""
    if spec == "memory":
        name = "memory"
    elif spec == "local":
        name = f"local:{settings.local_directory.resolve()}"
    else:
        name = spec
    with LOCK:
        store = STORES.get(name)
        if store is None:
            if spec == "memory":
                store = MemoryStore()
            elif spec == "local":
                from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore

                store = LocalDiskStore(settings.local_directory)
            else:
                from airflow_provider_oktopost._core.budget.redis_server import RedisStore

                store = RedisStore(spec)
            STORES[name] = store
        return name, store


def store_for(settings: BudgetSettings) -> tuple[str, Store]:
    """The store ``settings`` choose (for ``auto``, the one the deployment shares): (name, store)."""
    return open_store(choose(settings).spec, settings)


def budget_for(
    base_url: str,
    account_id: str,
    per_minute: int = DEFAULT_PER_MINUTE,
    settings: BudgetSettings | None = None,
) -> AccountBudget:
    """The budget of one account on one API host in the configured store (one object per process).

    Every connection to the account shares it; when they ask for different budgets, the smallest wins.
    """
    settings = settings or BudgetSettings()
    with LOCK:
        choice = choose(settings)
        name, store = open_store(choice.spec, settings)
        key = (name, account_key(base_url, account_id))
        budget = BUDGETS.get(key)
        if budget is None:
            machine = None
            if choice.spec not in ("local", "memory"):  # Redis: the machine-wide file is the step below
                machine = open_store("local", settings)[1]
            budget = BUDGETS[key] = AccountBudget(
                key[1], store, settings, per_minute, machine=machine, isolated=choice.isolated
            )
            announce(choice, store, budget.pace_per_window(), settings.window)
            report.opened(budget, base_url, account_id)
        elif per_minute < budget.per_minute:
            budget.per_minute = per_minute
        return budget


__all__ = ["BUDGETS", "LOCK", "STORES", "budget_for", "open_store", "store_for"]
