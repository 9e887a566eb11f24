"""The provider's metrics, sent through Airflow's own ``Stats`` (StatsD, Datadog or OpenTelemetry).

Airflow decides whether and where metrics go (``[metrics] statsd_on``, ``otel_on``...): with metrics off its
``Stats`` is a no-op and nothing is sent. Every metric is named under ``oktopost.`` (after Airflow's own
``[metrics] statsd_prefix``) and listed in :data:`METRICS`, the table ``docs/operating.md`` documents (a test
checks that the two agree). An account appears only as its Account ID, never as anything derived from its
key.

Each metric is sent twice, as Airflow does for its own: once with tags (Datadog, OpenTelemetry, and StatsD
with ``statsd_influxdb_enabled``), once with the tag values in the name (``oktopost.calls.<account>.<kind>.
<outcome>``), because plain StatsD drops tags. Sending a metric never fails the caller: any error is logged at
debug level and forgotten.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

log = logging.getLogger("airflow_provider_oktopost._core.metrics")


@dataclass(frozen=True)
class Metric:
    """One documented metric: name, StatsD type, tags (in order, as in the flat name) and meaning."""

    name: str
    type: str
    tags: tuple[str, ...]
    meaning: str


CALLS = Metric(
    "oktopost.calls",
    "counter",
    ("account", "kind", "outcome"),
    "Requests sent to Oktopost. `kind`: the endpoint (`integration_list`, `integration_get`, "
    "`integration_create`, `cname_delete`, `action_run`, `me`...); `outcome`: `success`, `client_error`, "
    "`rate_limited` (429), `server_error` or `no_response`.",
)
RATE_LIMITED = Metric(
    "oktopost.rate_limited",
    "counter",
    ("account", "kind"),
    "429 answers received (each is also counted in `oktopost.calls` with outcome `rate_limited`).",
)
BLOCKS = Metric(
    "oktopost.budget.blocks",
    "counter",
    ("account",),
    "Blocks recorded in the call budget after a 429: no process sends to the account until they end.",
)
BLOCK_LENGTH = Metric(
    "oktopost.budget.block_length",
    "timer",
    ("account",),
    "Length of each block recorded (the 429's `Retry-After`, else the documented 15 minutes).",
)
BUDGET_WAIT = Metric(
    "oktopost.budget.wait",
    "timer",
    ("account",),
    "Time a call waited for its turn in the budget before it was sent (only waits longer than zero).",
)
DEFERRALS = Metric(
    "oktopost.budget.deferrals",
    "counter",
    ("account", "reason"),
    "Tasks deferred to wait for the budget; `reason`: `block` (after a 429), `minute` (the minute's calls "
    "are taken) or `day` (the day's calls are used).",
)
DAY_USED = Metric(
    "oktopost.budget.day_used",
    "gauge",
    ("account",),
    "Calls of the current UTC day, as the shared budget counted them at the last reservation.",
)
POLLER_WAITS = Metric(
    "oktopost.poller.waits",
    "gauge",
    ("account",),
    "Waits (deferred sensors) held by one triggerer's poller of the account, after each poll cycle.",
)
POLL_CYCLE = Metric(
    "oktopost.poller.cycle",
    "timer",
    ("account",),
    "Duration of one poll cycle of a triggerer's poller (its reads for every due wait).",
)

#: Every metric the provider sends, in the order of the documentation's table.
METRICS = (
    CALLS,
    RATE_LIMITED,
    BLOCKS,
    BLOCK_LENGTH,
    BUDGET_WAIT,
    DEFERRALS,
    DAY_USED,
    POLLER_WAITS,
    POLL_CYCLE,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


_found: list[Any] = []


def _stats() -> Any:
    """Airflow's ``Stats`` (3.0 to 3.3 through the common-compat shim; looked up once per process).

    ``Stats`` itself decides at each call whether anything is sent (Airflow initialises it per process),
    so keeping the object does not keep a decision. Outside Airflow the import fails and nothing is sent.
    """
    if not _found:
        from airflow.providers.common.compat.sdk import Stats

        _found.append(Stats)
    return _found[0]


def tag_value(value: object) -> str:
    """A tag value that is also safe inside a StatsD name (letters, digits, ``_`` and ``-``)."""
    return _UNSAFE.sub("_", str(value)) or "_"


def emit(metric: Metric, value: float, **tags: object) -> None:
    """Send ``metric`` (a count, a gauge's value, or a timer's seconds); never raises."""
    try:
        clean = {name: tag_value(tags[name]) for name in metric.tags}
        flat = ".".join([metric.name, *clean.values()])
        stats = _stats()
        for name, with_tags in ((metric.name, clean), (flat, None)):
            if metric.type == "counter":
                stats.incr(name, int(value), tags=with_tags)
            elif metric.type == "gauge":
                stats.gauge(name, value, tags=with_tags)
            else:
                stats.timing(name, timedelta(seconds=value), tags=with_tags)
    except Exception as error:  # a metric must never fail a task
        log.debug("Could not send metric %s: %s", metric.name, error)
