"""Item 1 of issue 21: the provider's metrics, received as real StatsD datagrams.

One real ``dag.test()`` run in a fresh process, with Airflow's own ``[metrics]`` settings pointing at a UDP
listener of the test: it makes calls, waits for the budget, gets a 429, defers, and a deferred sensor's
trigger polls. Every documented metric must arrive, under its name with and without its tag values; with
metrics off, nothing at all arrives. The table in docs/operating.md must list exactly the metrics sent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from operating_support import BLOCK, OperatingRun, StatsdListener, run_operating_dag, summary

from airflow_provider_oktopost._core.metrics import METRICS, Metric
from airflow_provider_oktopost.testing import OktopostSandbox

pytestmark = pytest.mark.airflow

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operating.md"
STATSD_TYPES = {"counter": "c", "gauge": "g", "timer": "ms"}


def _values(run: OperatingRun, metric: Metric, *tags: str) -> list[float]:
    """Values of ``metric`` received under its flat name with ``tags``, checking the StatsD type."""
    name = ".".join([metric.name, *tags])
    found = run.metric(name)
    assert {kind for _, kind in found} <= {STATSD_TYPES[metric.type]}, (name, found)
    return [value for value, _ in found]


def test_every_documented_metric_arrives(
    run_with_metrics: OperatingRun, oktopost_sandbox_server: OktopostSandbox
) -> None:
    run = run_with_metrics
    account = oktopost_sandbox_server.account_id
    by_name = {m.name: m for m in METRICS}
    # The tagged names (plain StatsD drops the tags, so only the name tells them apart).
    for metric in METRICS:
        assert run.metric(metric.name), (
            f"{metric.name} never arrived; received: {sorted(set(run.lines))[:60]}"
        )

    calls = by_name["oktopost.calls"]
    assert len(_values(run, calls, account, "integration_list", "success")) == 3  # three pages
    assert _values(run, calls, account, "integration_delete", "rate_limited") == [1.0]
    assert _values(run, calls, account, "integration_delete", "success") == [1.0]
    assert _values(run, calls, account, "integration_get", "success")  # the sensor and the poller
    assert _values(run, by_name["oktopost.rate_limited"], account, "integration_delete") == [1.0]
    assert _values(run, calls, account, "integration_update", "rate_limited") == [1.0]
    assert _values(run, calls, account, "integration_update", "success") == [1.0]  # the retry
    assert _values(run, by_name["oktopost.rate_limited"], account, "integration_update") == [1.0]
    # Two 429s (the delete's and the update's), each recorded as a block of Retry-After seconds.
    assert _values(run, by_name["oktopost.budget.blocks"], account) == [1.0, 1.0]
    assert _values(run, by_name["oktopost.budget.block_length"], account) == [BLOCK * 1000.0] * 2
    waits = _values(run, by_name["oktopost.budget.wait"], account)
    assert len(waits) >= 2 and all(0 < ms <= 3000 for ms in waits), waits  # pages 2 and 3 at least
    assert _values(run, by_name["oktopost.budget.deferrals"], account, "block") == [1.0]
    day_used = _values(run, by_name["oktopost.budget.day_used"], account)
    assert day_used == sorted(day_used) and day_used[-1] >= 6, day_used  # a day's count only grows
    assert 1.0 in _values(run, by_name["oktopost.poller.waits"], account)
    assert _values(run, by_name["oktopost.poller.cycle"], account)
    # Nothing else under oktopost., and never a key.
    ours = {line.partition(":")[0] for line in run.lines if line.startswith("airflow.oktopost.")}
    documented = {m.name for m in METRICS}
    assert {name.removeprefix("airflow.") for name in ours} >= documented
    for name in ours:
        base = name.removeprefix("airflow.")
        assert any(base == m or base.startswith(m + ".") for m in documented), name
    assert oktopost_sandbox_server.api_key not in "\n".join(run.lines)


def test_nothing_is_sent_with_metrics_off(
    airflow_db: Path,
    oktopost_sandbox: OktopostSandbox,
    statsd: StatsdListener,
    tmp_path: Path,
) -> None:
    # The listener's port is configured, but statsd_on is False: Airflow's Stats sends nothing.
    run = run_operating_dag(
        oktopost_sandbox,
        tmp_path,
        None,
        {"AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1", "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port)},
    )
    assert run.states["delete"] == "success", summary(run)
    statsd.close()
    assert statsd.lines == []


def _documented_rows() -> dict[str, tuple[str, str]]:
    """``name -> (type, tags)`` of the metrics table in docs/operating.md."""
    rows = {}
    for line in DOCS.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"`oktopost\.[a-z_.]+`", cells[0]):
            rows[cells[0].strip("`")] = (cells[1], cells[2].replace("`", ""))
    return rows


def test_the_docs_table_lists_exactly_the_metrics_sent() -> None:
    rows = _documented_rows()
    assert set(rows) == {m.name for m in METRICS}
    for metric in METRICS:
        assert rows[metric.name] == (metric.type, ", ".join(metric.tags)), metric.name


def test_sending_a_metric_never_raises() -> None:
    from airflow_provider_oktopost._core import metrics

    metrics.emit(metrics.CALLS, 1)  # tags missing: a bug in a caller must not fail the task
    metrics.emit(metrics.DAY_USED, float("nan"), account="001")
    metrics.emit(metrics.POLL_CYCLE, -1.0, account="001 with spaces/and:colons")
    assert metrics.tag_value("001 with spaces/and:colons") == "001_with_spaces_and_colons"
