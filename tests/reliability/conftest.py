"""Fixtures for the reliability suite: a simulated clock, a keyed sandbox, and the results collector.

The fault-matrix and chaos tests record one row per case into a session-level :class:`Results`. One run
writes them to ``docs/reliability-results.md``: the one started with ``OKTOPOST_RELIABILITY_WRITER`` set,
which ``scripts/test.sh`` does for its Airflow ``$AIRFLOW_HIGH`` run only (the value lists the environments
that ``make test`` runs, this one first). It writes when the session ends and *every* expected row is
present (a full, passing run, not a ``-k`` subset), and names in the file its Airflow version, its date and
the other environments, which run the same tests without writing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from reliability_support import RESULTS, Results, set_connection, write_results
from support import SimClock

from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.budget import reset_budgets

REPO = Path(__file__).resolve().parents[2]
RESULTS_FILE = REPO / "docs" / "reliability-results.md"

# The fault matrix's tables hold assertions of their own: rewrite them as in a test module.
pytest.register_assert_rewrite("fault_cases", "fault_components", "fault_waits")


@pytest.fixture
def rsandbox(oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> OktopostSandbox:
    """The reset sandbox without its rate limit, ``oktopost_default`` pointing at it, client throttle off."""
    oktopost_sandbox.configure(rate_limit_per_minute=None)
    set_connection(oktopost_sandbox, monkeypatch)
    reset_budgets()
    return oktopost_sandbox


@pytest.fixture
def sim_clock(rsandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimClock]:
    """Patch time, not the network (provider clock and the sensor's poke-mode ``time.sleep``)."""
    import airflow.sdk.bases.sensor as sensor_module

    sim = SimClock(rsandbox).install(monkeypatch)
    monkeypatch.setattr(
        sensor_module, "time", SimpleNamespace(sleep=sim.sleep, monotonic=sim.monotonic, time=sim.wall)
    )
    yield sim


@pytest.fixture(scope="session")
def results() -> Iterator[Results]:
    yield RESULTS


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    write_results(RESULTS_FILE, exitstatus, RESULTS, os.environ)
