"""Test set-up shared by the whole suite.

Airflow reads its configuration when first imported, so the throwaway ``AIRFLOW_HOME`` (SQLite, no example
DAGs, this repository as the DAGs folder so ``dag.test()`` accepts DAGs defined in test files) is set here,
at import time, before any test module imports Airflow. The sandbox fixtures come from the provider's own
opt-in pytest plugin, the same one users add to their suites.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_oktopost.core import clock
from support import SleepRecorder

REPO = Path(__file__).resolve().parent.parent
_HOME = Path(tempfile.mkdtemp(prefix="oktopost-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO)
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
os.environ.pop("AIRFLOW_CONN_OKTOPOST_DEFAULT", None)

pytest_plugins = ["airflow_provider_oktopost.testing.pytest_plugin"]


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The session's throwaway AIRFLOW_HOME."""
    return _HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Iterator[Path]:
    """A migrated SQLite metadata database (``airflow db migrate``, once per session)."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True, text=True, env=os.environ.copy(), check=False, timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    yield airflow_home / "airflow.db"


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> Iterator[SleepRecorder]:
    """Patch time, not the network: backoff and throttle waits are recorded instead of slept."""
    recorder = SleepRecorder()
    real_monotonic = clock.monotonic
    real_wall = clock.wall
    monkeypatch.setattr(clock, "sleep", recorder.sleep)
    monkeypatch.setattr(clock, "async_sleep", recorder.async_sleep)
    monkeypatch.setattr(clock, "monotonic", lambda: real_monotonic() + recorder.offset)
    monkeypatch.setattr(clock, "wall", lambda: real_wall() + recorder.offset)
    yield recorder
