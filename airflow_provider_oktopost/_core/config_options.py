"""The provider's ``[oktopost]`` Airflow configuration options: the one list the code reads and Airflow shows.

:func:`~airflow_provider_oktopost.get_provider_info.get_provider_info` declares :data:`OPTIONS` under
``config`` (so ``airflow config list`` shows them with their defaults and descriptions), and
:func:`~airflow_provider_oktopost._core.budget.settings.airflow_option`, the one reader of the section,
refuses a name that is not declared here, so the list cannot drift from what the code reads. The numeric
defaults of :mod:`~airflow_provider_oktopost._core.budget.settings` are taken from here too.

Imports nothing: ``get_provider_info`` runs in every Airflow CLI command.
"""

from __future__ import annotations

from typing import Any

#: Airflow configuration section of the provider's options.
SECTION = "oktopost"
#: The release that first reads these options.
_ADDED = "0.2.0"


def _option(description: str, type_: str, default: str, example: str | None) -> dict[str, Any]:
    return {
        "description": description,
        "version_added": _ADDED,
        "type": type_,
        "example": example,
        "default": default,
    }


#: ``[oktopost]`` option -> its declaration (the shape of ``provider_info.schema.json``'s ``option``).
#: An empty default means "computed": the description says from what.
OPTIONS: dict[str, dict[str, Any]] = {
    "budget_store": {
        **_option(
            "Where every process keeps the Oktopost accounts' shared call budget. Empty (default) or "
            "``auto``: the CeleryExecutor's Redis broker when ``[celery] broker_url`` is a ``redis://`` "
            "URL (under keys of its own, ``oktopost:*``), else ``local``; with executors whose tasks run "
            "on other machines or pods and no Redis (KubernetesExecutor), each process paces itself "
            "conservatively and says so. ``local``: a SQLite file shared by every process of the machine. "
            "A ``redis://``, ``rediss://`` or ``unix://`` URL: shared by every machine of the deployment "
            "(not Redis Cluster). ``memory``: each process alone. A connection's ``budget_store`` extra "
            "takes precedence. Sensitive: Airflow hides and masks its value (so a value such as ``local`` "
            "shows as ``***`` in Airflow's logs).",
            "string",
            "",
            "redis://redis.internal:6379/3",
        ),
        "sensitive": True,
    },
    "budget_dir": _option(
        "Directory of the local budget store; on a local disk, writable by every Airflow process of the "
        "machine. Empty: ``$AIRFLOW_HOME/oktopost``.",
        "string",
        "",
        "/var/lib/airflow/oktopost",
    ),
    "daily_limit": _option(
        "Calls an Oktopost account may make per UTC day, counted in the budget store.",
        "integer",
        "20000",
        None,
    ),
    "daily_share_for_other_tools": _option(
        "Share of the day's calls that polling (sensors, triggers, watchers) never uses, kept for the "
        "account's other tools; when the rest runs low, polling slows down. From 0 to below 1.",
        "float",
        "0.1",
        "0.25",
    ),
    "budget_max_wait": _option(
        "Longest wait, in seconds, for a turn in the budget inside a worker; a longer wait defers the task "
        "(deferrable) or fails the try with a retryable error. The default, 62, is the longest turn in a "
        "full minute (a minute and the budget's 2 s arrival allowance).",
        "float",
        "62",
        None,
    ),
    "listing_ttl": _option(
        "Seconds a listing of an account's integrations, shared through the budget store, serves connects "
        "before it is taken again. 0: no sharing.",
        "float",
        "600",
        None,
    ),
    "watcher_state_dir": _option(
        "Directory where integration watchers keep their state on Airflow versions without the triggerer's "
        "asset state store (3.0 to 3.2). Empty: ``$AIRFLOW_HOME/oktopost/watcher-state``.",
        "string",
        "",
        "/var/lib/airflow/oktopost/watcher-state",
    ),
}


def provider_config() -> dict[str, Any]:
    """The ``config`` entry of the provider info."""
    return {
        SECTION: {
            "description": "Options of the Oktopost provider: the shared call budget and the "
            "watchers' state. Each budget option can also be set per connection in its extras, which "
            "take precedence.",
            "options": OPTIONS,
        }
    }


__all__ = ["OPTIONS", "SECTION", "provider_config"]
