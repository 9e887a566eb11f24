"""Which store the budget uses when nobody said (``budget_store = auto``), and why.

The budget protects the account only if every process that calls Oktopost reaches the same store. What
they share depends on how Airflow is deployed, which Airflow's own configuration tells:

- the **CeleryExecutor with a Redis broker** (the official docker-compose file, the Helm chart's default):
  every component already reaches that Redis, whatever container it runs in, so the budget lives there,
  under keys of its own (``oktopost:{<account>}:...``, never Celery's);
- an executor whose tasks run on **one machine** (``LocalExecutor``, ``airflow standalone``): the
  machine-wide SQLite file under ``$AIRFLOW_HOME``;
- an executor whose tasks run **elsewhere with nothing shared** (the KubernetesExecutor out of the box,
  a Celery broker that is not Redis, the Edge executor): the machine-wide file still serves the processes
  of one pod or host, but the others cannot see it, so the choice is marked *isolated*: the budget warns
  once, naming the fix (``[oktopost] budget_store = redis://...``), and paces itself conservatively
  instead of assuming the account's whole rate is its own.

Reads Airflow's configuration lazily, and only when the store is ``auto``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from airflow_provider_oktopost._core.budget.settings import AUTO, BudgetSettings, redact

log = logging.getLogger("airflow_provider_oktopost.budget")
#: Which store choices this process has announced in its log (once each; the testing tools forget them).
ANNOUNCED: set[str] = set()
#: Executors whose task processes all run on the machine of the scheduler that starts them.
_ONE_MACHINE = ("localexecutor", "sequentialexecutor", "debugexecutor")
_REDIS_BROKER = ("redis://", "rediss://")


@dataclass(frozen=True)
class StoreChoice:
    """The store to open and why.

    :param spec: ``"local"``, ``"memory"`` or a Redis URL.
    :param reason: One sentence for the log (no password).
    :param isolated: True when other processes of the deployment cannot reach this store (pace
        conservatively, and say how to fix it).
    """

    spec: str
    reason: str
    isolated: bool = False


def airflow_setting(section: str, key: str) -> str:
    """``[section] key`` of Airflow's configuration (environment first), or ``""`` when unset or unknown."""
    value = os.environ.get(f"AIRFLOW__{section.upper()}__{key.upper()}")
    if value:
        return value
    try:
        from airflow.providers.common.compat.sdk import conf

        found = conf.get(section, key, fallback=None)
    except Exception:  # no Airflow configuration (a plain script): nothing is known
        return ""
    return "" if found is None else str(found)


def choose(settings: BudgetSettings) -> StoreChoice:
    """The store of ``settings``: the one named, or for ``auto`` the one the deployment shares."""
    if settings.store not in AUTO:
        return StoreChoice(settings.store, f"budget_store = {redact(settings.store)}")
    executor = airflow_setting("core", "executor").replace(" ", "")
    names = [name.rsplit(".", 1)[-1].lower() for name in executor.split(",") if name] or ["localexecutor"]
    if any("celery" in name for name in names):
        broker = airflow_setting("celery", "broker_url")
        if broker.startswith(_REDIS_BROKER):
            return StoreChoice(
                broker,
                f"budget_store is not set and the executor ({executor}) uses the Redis broker "
                f"{redact(broker)}, which every worker reaches; the budget keeps its own keys there "
                "(oktopost:*)",
            )
    if all(name in _ONE_MACHINE for name in names):
        return StoreChoice(
            "local",
            f"budget_store is not set and the executor ({executor or 'LocalExecutor'}) runs every task on "
            "this machine: the machine-wide file",
        )
    return StoreChoice(
        "local",
        f"budget_store is not set and the executor ({executor}) may run tasks on other machines or pods "
        "with no store they all reach",
        isolated=True,
    )


def announce(choice: StoreChoice, store: object, pace: int, window: float) -> None:
    """Say once per process which store the budget uses and why (loudly when it cannot be shared)."""
    if choice.spec in ANNOUNCED:
        return
    ANNOUNCED.add(choice.spec)
    if choice.isolated:
        log.warning(
            "The Oktopost call budget cannot be shared by this deployment's processes: %s. Each process "
            "(or pod) therefore paces itself conservatively, %d call(s) per %.0fs, with the machine-wide "
            "store %r. Fix: set [oktopost] budget_store to a "
            "redis:// URL that every Airflow component reaches.",
            choice.reason,
            pace,
            window,
            store,
        )
    else:
        log.info("The Oktopost call budget uses %r: %s.", store, choice.reason)
