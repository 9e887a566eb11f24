"""Fixtures of the operating tests: a real UDP StatsD listener, and one real run of the operating DAG."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from operating_support import OperatingRun, StatsdListener, run_operating_dag, summary

from airflow_provider_oktopost.testing import OktopostSandbox


@pytest.fixture
def statsd() -> Iterator[StatsdListener]:
    """A StatsD listener on a free UDP port of 127.0.0.1, for one test."""
    listener = StatsdListener()
    try:
        yield listener
    finally:
        listener.close()


@pytest.fixture(scope="session")
def run_with_metrics(
    airflow_db: Path,
    oktopost_sandbox_server: OktopostSandbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> OperatingRun:
    """The operating DAG run once (it takes ~40 s), StatsD on, every datagram and output line kept."""
    sandbox = oktopost_sandbox_server
    sandbox.reset(restore_config=True)
    listener = StatsdListener()
    try:
        run = run_operating_dag(sandbox, tmp_path_factory.mktemp("budget"), listener.port)
    finally:
        listener.close()
        sandbox.reset(restore_config=True)
    run.lines = list(listener.lines)
    expected = {"delete": "success", "disable": "success", "list_all": "success", "wait_ready": "success"}
    assert run.states == expected, summary(run)
    return run
