"""The suite's ``in_process_api_server`` cache (``tests/conftest.py``) changes only how fast ``dag.test`` is.

On Airflow 3.1 and 3.2 the conftest wraps Airflow's ``supervisor.in_process_api_server`` in a cache, so
every suite on those versions runs a patched Airflow. Here an example DAG runs twice, each time in a fresh
process through the shipped helper (``testing.dagrun.run_dag``): once with Airflow as installed (the
conftest is not loaded), once with the conftest's patch. Both must end the same way (run and task states,
every XCom, every request the sandbox received, times aside), and the patch must be the only
difference: without it Airflow builds its execution API once per task, with it once. The builds are
counted by a profiler hook on the function's code, so the unpatched run has nothing of Airflow replaced.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import airflow
import pytest

REPO = Path(__file__).resolve().parents[2]
VERSION = tuple(int(part) for part in airflow.__version__.split(".")[:2])

pytestmark = pytest.mark.airflow

SCRIPT = r"""
import importlib.util, json, sys, threading
mode, repo = sys.argv[1], sys.argv[2]
from airflow.sdk.execution_time import supervisor

code = supervisor.in_process_api_server.__code__
builds = []

def profile(frame, event, arg):
    if event == "call" and frame.f_code is code:
        builds.append(1)

sys.setprofile(profile)
threading.setprofile(profile)
if mode == "patched":
    sys.path.insert(0, repo + "/tests")
    import conftest
    conftest._one_in_process_api_server()
    assert hasattr(supervisor.in_process_api_server, "cache_info")
else:
    assert supervisor.in_process_api_server.__code__ is code and not hasattr(
        supervisor.in_process_api_server, "cache_info"
    )

from airflow_provider_oktopost.testing import OktopostSandbox
sandbox = OktopostSandbox(id_seed=23).start()  # the same ids in both runs
import os
os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = json.dumps(sandbox.connection_dict())
dag_file = repo + "/example_dags/example_oktopost_onboarding.py"
spec = importlib.util.spec_from_file_location("onboarding", dag_file)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom
run = run_dag(module.dag, run_conf={"host_name": "links.unpatched.example"})
sys.setprofile(None)
threading.setprofile(None)
tasks = task_states(run)
result = {
    "state": str(getattr(run.state, "value", run.state)),
    "tasks": tasks,
    "xcoms": {task_id: xcom(run, task_id) for task_id in sorted(tasks)},
    "requests": [[r.method, r.path, r.status] for r in sandbox.requests],
    "builds": len(builds),
}
sandbox.stop()
print("RESULT " + json.dumps(result, sort_keys=True, default=str))
"""

TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")


def _normalized(result: dict[str, Any]) -> str:
    """The run's outcome with times blanked (the sandbox's ids are seeded: the same in both runs)."""
    text = json.dumps({k: v for k, v in result.items() if k != "builds"}, sort_keys=True)
    return TIME.sub("<time>", text)


def _run(mode: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_CONN_OKTOPOST_DEFAULT"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, str(REPO)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, f"{mode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    parsed: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    return parsed


@pytest.mark.skipif(
    VERSION not in ((3, 1), (3, 2)),
    reason="the conftest patches in_process_api_server on Airflow 3.1 and 3.2 only (3.3 caches it itself; "
    "3.0's dag.test does not use it)",
)
def test_the_cache_patch_changes_only_how_often_airflow_builds_its_api(airflow_db: Path) -> None:
    unpatched, patched = _run("unpatched"), _run("patched")
    assert unpatched["state"] == "success", unpatched
    assert set(unpatched["tasks"].values()) == {"success"}, unpatched
    assert len(unpatched["tasks"]) >= 3 and unpatched["requests"], unpatched
    assert _normalized(patched) == _normalized(unpatched)
    # Unpatched: one execution API per task run (a deferred task's resume counts again); patched: one.
    assert unpatched["builds"] >= len(unpatched["tasks"]), unpatched
    assert patched["builds"] == 1, patched


@pytest.mark.skipif(VERSION in ((3, 1), (3, 2)), reason="checked by running both ways on 3.1 and 3.2")
def test_the_cache_patch_leaves_other_versions_as_they_are() -> None:
    """On 3.0 and 3.3 the conftest (already applied in this process) replaces nothing."""
    from airflow.sdk.execution_time import supervisor

    build = getattr(supervisor, "in_process_api_server", None)
    if VERSION >= (3, 3):  # Airflow's own lru_cache, not wrapped in a second one
        assert build is not None and hasattr(build, "cache_info")
        assert not hasattr(build.__wrapped__, "cache_info")
    else:  # 3.0's dag.test runs tasks without an in-process execution API
        assert build is None
