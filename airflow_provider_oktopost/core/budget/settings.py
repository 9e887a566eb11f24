"""Budget settings, read from the connection's extras, then Airflow's ``[oktopost]`` section, then defaults.

Kept free of Airflow imports at module level: Airflow's configuration is consulted lazily, and only for
options a connection does not set, so a plain script using the hook works without an Airflow config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_oktopost.config_options import OPTIONS as DECLARED
from airflow_provider_oktopost.config_options import SECTION

# The defaults are those declared for Airflow's ``[oktopost]`` section (one list: config_options).
#: Oktopost's documented limits (see the API facts): 60 calls a minute, 20,000 a day, reset 00:00 UTC.
DAILY_LIMIT = int(DECLARED["daily_limit"]["default"])
#: The span Oktopost counts calls over; a setting only so that tests and benchmarks can shorten "a minute".
WINDOW = float(DECLARED["budget_window_seconds"]["default"])
#: The share of the day's calls that polling leaves for the account's other tools.
SHARE_FOR_OTHER_TOOLS = float(DECLARED["daily_share_for_other_tools"]["default"])
#: The longest a worker waits for its turn in the budget; a longer wait defers or fails the try.
MAX_WAIT = float(DECLARED["budget_max_wait"]["default"])
#: How long a listing of an account's integrations, shared through the store, serves connects.
LISTING_TTL = float(DECLARED["listing_ttl"]["default"])


@dataclass(frozen=True)
class BudgetSettings:
    """How an account's shared call budget behaves.

    :param store: ``"local"`` (machine-wide SQLite file, the default), ``"memory"`` (this process only, the
        behaviour before the budget was shared) or a ``redis://`` / ``rediss://`` / ``unix://`` URL.
    :param directory: Where the local store's file lives (default ``$AIRFLOW_HOME/oktopost``).
    :param window: Seconds Oktopost counts ``rate_limit_per_minute`` calls over (60).
    :param daily_limit: Calls a day (20,000), counted in the store per UTC day.
    :param share_for_other_tools: Fraction of the day's calls that polling never uses (0.1).
    :param max_wait: Longest wait for a turn inside a worker, seconds (60).
    :param listing_ttl: Seconds a shared listing serves connects before it is taken again (600).
    """

    store: str = str(DECLARED["budget_store"]["default"])
    directory: str = ""
    window: float = WINDOW
    daily_limit: int = DAILY_LIMIT
    share_for_other_tools: float = SHARE_FOR_OTHER_TOOLS
    max_wait: float = MAX_WAIT
    listing_ttl: float = LISTING_TTL

    def __post_init__(self) -> None:
        if not (self.store in ("local", "memory") or self.store.split("://", 1)[0] in _REDIS_SCHEMES):
            raise ValueError(
                "budget_store must be 'local', 'memory' or a redis://, rediss:// or unix:// URL, "
                f"got {self.store!r}"
            )
        if not 0 <= self.share_for_other_tools < 1:
            raise ValueError(
                f"daily_share_for_other_tools must be in [0, 1), got {self.share_for_other_tools}"
            )

    @property
    def local_directory(self) -> Path:
        """The local store's directory: the setting, else ``$AIRFLOW_HOME/oktopost``."""
        if self.directory:
            return Path(self.directory).expanduser()
        home = os.environ.get("AIRFLOW_HOME") or "~/airflow"
        return Path(home).expanduser() / "oktopost"


_REDIS_SCHEMES = ("redis", "rediss", "unix")

#: Connection extra -> (Airflow option, field).
OPTIONS = {
    "budget_store": ("budget_store", "store"),
    "budget_dir": ("budget_dir", "directory"),
    "budget_window_seconds": ("budget_window_seconds", "window"),
    "daily_limit": ("daily_limit", "daily_limit"),
    "daily_share_for_other_tools": ("daily_share_for_other_tools", "share_for_other_tools"),
    "budget_max_wait": ("budget_max_wait", "max_wait"),
    "listing_ttl": ("listing_ttl", "listing_ttl"),
}


def airflow_option(name: str) -> str | None:
    """``[oktopost] <name>`` from Airflow's configuration (or ``AIRFLOW__OKTOPOST__<NAME>``), if set.

    The one reader of the section: ``name`` must be declared in
    :data:`~airflow_provider_oktopost.config_options.OPTIONS`, so that ``airflow config list`` shows every
    option the provider reads.
    """
    if name not in DECLARED:
        raise KeyError(f"[{SECTION}] {name} is not declared in airflow_provider_oktopost.config_options")
    value = os.environ.get(f"AIRFLOW__{SECTION.upper()}__{name.upper()}")
    if value not in (None, ""):
        return value
    try:
        from airflow.providers.common.compat.sdk import conf

        found = conf.get(SECTION, name, fallback=None)
    except Exception:  # no Airflow config at all (a plain script): defaults apply
        return None
    return None if found in (None, "") else str(found)
