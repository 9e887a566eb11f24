"""Test set-up shared by the whole suite.

Airflow reads its configuration when first imported, so the throwaway ``AIRFLOW_HOME`` (SQLite, no example
DAGs) is set here, at import time, before any test module imports Airflow. ``run_dag`` points the DAGs
folder at each DAG's own directory for the run, so DAGs defined in test files run too. The sandbox fixtures
come from the provider's own opt-in pytest plugin, the same one users add to their suites.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import SimClock

REPO = Path(__file__).resolve().parent.parent
# Guarded: Airflow's DAG parser may import this file again (it looks for "airflow" and "dag" in files under
# the DAGs folder); a second import must not move AIRFLOW_HOME or drop the test's connection.
if "OKTOPOST_TEST_AIRFLOW_HOME" not in os.environ:
    os.environ["OKTOPOST_TEST_AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="oktopost-airflow-home-")
    os.environ.pop("AIRFLOW_CONN_OKTOPOST_DEFAULT", None)
_HOME = Path(os.environ["OKTOPOST_TEST_AIRFLOW_HOME"])
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "example_dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")

pytest_plugins = ["airflow_provider_oktopost.testing.pytest_plugin"]

#: Airflow's deprecation warnings are errors in this suite (deprecated imports are FutureWarnings, set in
#: pyproject.toml; these two are DeprecationWarnings that may be raised from inside Airflow's own frames).
AIRFLOW_DEPRECATIONS = (
    "error::airflow.exceptions.RemovedInAirflow4Warning",
    "error::airflow.exceptions.AirflowProviderDeprecationWarning",
)


def pytest_configure(config: pytest.Config) -> None:
    for line in AIRFLOW_DEPRECATIONS:
        config.addinivalue_line("filterwarnings", line)
    # Airflow 3.0.0 with providers-standard 1.21 warns (a DeprecationWarning from common-compat resolving
    # BaseBranchOperator to a 3.0 path) the first time anything imports airflow.models.dag, which the first
    # connection lookup does; run under -W error, that lookup then fails silently ("conn_id isn't defined").
    # The warning is Airflow's, not this provider's: take it once here, silenced.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)  # 3.1 + common-compat 1.23: DeprecatedImportWarning
        import airflow.providers.standard.operators.python  # noqa: F401
    _one_in_process_api_server()


def _one_in_process_api_server() -> None:
    """Build ``dag.test``'s in-process execution API once per process, as Airflow 3.3 does.

    Airflow 3.1 and 3.2 build a new FastAPI + Cadwyn app (about a second) for every task that ``dag.test``
    runs; 3.3 caches it (``functools.lru_cache`` on ``supervisor.in_process_api_server``). The suite does
    the same on 3.1/3.2, where without it most of its time went into building apps. Nothing of the
    provider's runs differently: only how often Airflow's own test harness builds its API.
    """
    import functools

    try:
        from airflow.sdk.execution_time import supervisor
    except ImportError:  # pragma: no cover - every supported Airflow has it
        return
    build = getattr(supervisor, "in_process_api_server", None)
    if build is not None and not hasattr(build, "cache_info"):
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(build)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The session's throwaway AIRFLOW_HOME."""
    return _HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Iterator[Path]:
    """A migrated SQLite metadata database (``airflow db migrate``, once per session)."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    yield airflow_home / "airflow.db"


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> SimClock:
    """Patch time, not the network: backoff and throttle waits are recorded instead of slept."""
    return SimClock().install(monkeypatch)
