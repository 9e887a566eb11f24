"""Budget settings, read from the connection's extras, then Airflow's ``[oktopost]`` section, then defaults.

Kept free of Airflow imports at module level: Airflow's configuration is consulted lazily, and only for
options a connection does not set, so a plain script using the hook works without an Airflow config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from airflow_provider_oktopost._core.config_options import OPTIONS as DECLARED
from airflow_provider_oktopost._core.config_options import SECTION

#: Calls a minute the budget allows an account when its connection does not say (``rate_limit_per_minute``):
#: below the documented 60 calls/minute, leaving room for other clients of the same key.
DEFAULT_PER_MINUTE = 50
# The defaults are those declared for Airflow's ``[oktopost]`` section (one list: config_options).
#: Oktopost's documented limits (see the API facts): 60 calls a minute, 20,000 a day, reset 00:00 UTC.
DAILY_LIMIT = int(DECLARED["daily_limit"]["default"])
#: The span Oktopost counts the per-minute calls over.
WINDOW = 60.0
#: The share of the window added between a slot and the one ``rate_limit_per_minute`` slots later: 2 s of
#: Oktopost's minute. A slot is when a call is *sent*; Oktopost counts when it *arrives*. The first call of a
#: fresh task process pays for a TCP and TLS handshake and for the machine's scheduling, a warm call later
#: does not: without the allowance, a burst of cold calls followed one window later by warm ones can put
#: more than the rate into one of Oktopost's sliding minutes (``tests/budget/test_arrival_allowance.py``
#: shows the 429). It costs 3 % of throughput, and only while the budget is saturated. A share, not seconds,
#: so that a test's shorter "minute" (below) keeps every proportion of the real one.
ARRIVAL_ALLOWANCE_SHARE = 1 / 30
#: Test-only: a shorter "minute" (seconds) for tests and benchmarks, read from the environment by every
#: process (see docs/testing.md). Not an Airflow option: a deployment always counts over a minute.
TESTING_WINDOW_ENV = "OKTOPOST_TESTING_BUDGET_WINDOW_SECONDS"
#: The share of the day's calls that polling leaves for the account's other tools.
SHARE_FOR_OTHER_TOOLS = float(DECLARED["daily_share_for_other_tools"]["default"])
#: The longest a worker waits for its turn in the budget; a longer wait defers or fails the try.
MAX_WAIT = float(DECLARED["budget_max_wait"]["default"])
#: How long a listing of an account's integrations, shared through the store, serves connects.
LISTING_TTL = float(DECLARED["listing_ttl"]["default"])


def window_seconds() -> float:
    """The budget's "minute": 60 seconds, unless a test or benchmark set :data:`TESTING_WINDOW_ENV`."""
    raw = os.environ.get(TESTING_WINDOW_ENV, "")
    if not raw:
        return WINDOW
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"{TESTING_WINDOW_ENV} must be a number of seconds above 0, got {raw!r}")
    return value


@dataclass(frozen=True)
class BudgetSettings:
    """How an account's shared call budget behaves.

    :param store: ``""`` (the default) or ``"auto"``: the deployment's own Redis when the CeleryExecutor's
        broker is one, else the machine-wide file (see :mod:`.selection`); ``"local"`` (machine-wide file),
        ``"memory"`` (this process only, the behaviour before the budget was shared) or a ``redis://`` /
        ``rediss://`` / ``unix://`` URL. Its password never appears in the settings' ``repr``.
    :param directory: Where the local store's file lives (default ``$AIRFLOW_HOME/oktopost``).
    :param window: Seconds Oktopost counts ``rate_limit_per_minute`` calls over (60; see
        :func:`window_seconds`).
    :param daily_limit: Calls a day (20,000), counted in the store per UTC day.
    :param share_for_other_tools: Fraction of the day's calls that polling never uses (0.1).
    :param max_wait: Longest wait for a turn inside a worker, seconds (60).
    :param listing_ttl: Seconds a shared listing serves connects before it is taken again (600).
    """

    store: str = str(DECLARED["budget_store"]["default"])
    directory: str = ""
    window: float = field(default_factory=window_seconds)
    daily_limit: int = DAILY_LIMIT
    share_for_other_tools: float = SHARE_FOR_OTHER_TOOLS
    max_wait: float = MAX_WAIT
    listing_ttl: float = LISTING_TTL

    def __post_init__(self) -> None:
        if not (self.store in KEYWORDS or self.store.split("://", 1)[0] in _REDIS_SCHEMES):
            raise ValueError(
                "budget_store must be 'auto', 'local', 'memory' or a redis://, rediss:// or unix:// URL, "
                f"got {_shown(self.store)}"
            )
        if not 0 <= self.share_for_other_tools < 1:
            raise ValueError(
                f"daily_share_for_other_tools must be in [0, 1), got {self.share_for_other_tools}"
            )

    def __repr__(self) -> str:
        shown = [f"store={redact(self.store)!r}"]
        shown += [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name != "store"]
        return f"BudgetSettings({', '.join(shown)})"

    @property
    def arrival_allowance(self) -> float:
        """Seconds a call may reach Oktopost later than planned (:data:`ARRIVAL_ALLOWANCE_SHARE`)."""
        return self.window * ARRIVAL_ALLOWANCE_SHARE

    @property
    def local_directory(self) -> Path:
        """The local store's directory: the setting, else ``$AIRFLOW_HOME/oktopost``."""
        if self.directory:
            return Path(self.directory).expanduser()
        home = os.environ.get("AIRFLOW_HOME") or "~/airflow"
        return Path(home).expanduser() / "oktopost"


_REDIS_SCHEMES = ("redis", "rediss", "unix")
#: The store names that are not URLs.
KEYWORDS = ("", "auto", "local", "memory")
#: The values that mean "find the store the deployment shares" (:mod:`.selection`).
AUTO = ("", "auto")
MASK = "***"


def redact(url: str) -> str:
    """``url`` with any password (``redis://user:pw@host``, ``?password=pw``) replaced by ``***``.

    What every repr, log line and error message shows of a store URL; a value that is not a URL is
    returned as it is.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, MASK if k.lower() == "password" else v) for k, v in pairs], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not parseable: show the scheme only
        return f"{url.split('://', 1)[0]}://{MASK}"


def _shown(value: str) -> str:
    """A wrong ``budget_store`` as an error message may show it: a word as it is, anything else hidden (a
    mistyped URL may hold a password)."""
    if "://" in value:
        return repr(redact(value))
    return repr(value) if value.replace("_", "").replace("-", "").isalnum() else "a value that is not a URL"


def secrets_of(url: str) -> list[str]:
    """The password(s) in a store URL, to scrub them from text that may quote it (an error message)."""
    if "://" not in url:
        return []
    try:
        parts = urlsplit(url)
        found = [parts.password] if parts.password else []
        found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v]
    except ValueError:
        return [url]
    return [secret for secret in found if secret]


def scrub(text: str, url: str) -> str:
    """``text`` with every password of ``url`` replaced by ``***``."""
    for secret in secrets_of(url):
        text = text.replace(secret, MASK)
    return text


#: Connection extra -> (Airflow option, field).
OPTIONS = {
    "budget_store": ("budget_store", "store"),
    "budget_dir": ("budget_dir", "directory"),
    "daily_limit": ("daily_limit", "daily_limit"),
    "daily_share_for_other_tools": ("daily_share_for_other_tools", "share_for_other_tools"),
    "budget_max_wait": ("budget_max_wait", "max_wait"),
    "listing_ttl": ("listing_ttl", "listing_ttl"),
}


def airflow_option(name: str) -> str | None:
    """``[oktopost] <name>`` from Airflow's configuration (or ``AIRFLOW__OKTOPOST__<NAME>``), if set.

    The one reader of the section: ``name`` must be declared in
    :data:`~airflow_provider_oktopost._core.config_options.OPTIONS`, so that ``airflow config list`` shows
    every option the provider reads.
    """
    if name not in DECLARED:
        raise KeyError(
            f"[{SECTION}] {name} is not declared in airflow_provider_oktopost._core.config_options"
        )
    value = os.environ.get(f"AIRFLOW__{SECTION.upper()}__{name.upper()}")
    if value not in (None, ""):
        return value
    try:
        from airflow.providers.common.compat.sdk import conf

        found = conf.get(SECTION, name, fallback=None)
    except Exception:  # no Airflow config at all (a plain script): defaults apply
        return None
    return None if found in (None, "") else str(found)
