"""The README's demo: run example_oktopost_onboarding end to end against the embedded sandbox.

Everything is throwaway: a temporary AIRFLOW_HOME with SQLite, the sandbox Oktopost API on a free port of
127.0.0.1 (new integrations take a few seconds to validate, as real ones do), and ``dag.test()`` running
the DAG in this process, deferral included, twice for the same host name. Prints what happened and exits
0 when both runs succeeded and the second created nothing.

The output is the provider's story and nothing else (``tests/example_dags/test_demo_output.py`` fails on any
warning line). Two kinds of noise from dependencies are silenced here, in the demo only:

- Starlette's deprecation of ``httpx`` in its test client, which ``dag.test()``'s in-process execution API
  imports: nothing a user of the provider can act on.
- The warnings of Airflow's asset manager when the sensor adds the new integration's asset to the
  ``oktopost_onboarded`` alias. Airflow only learns such an asset when the first event names it (the
  integration's Id exists only at run time, so no DAG can declare it): it logs "not found; cannot create
  asset event", creates the asset and records the event; in a deployment the scheduler then activates it,
  but ``dag.test()`` runs no scheduler, so every event in the demo adds "Emitting event for inactive
  AssetModel". The demo prints the recorded events instead, which is what the provider did.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example_dags" / "example_oktopost_onboarding.py"
HOST = "links.example.com"


def step(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="oktopost-demo-home-"))
    os.environ.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE.parent),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        # See the module docstring: Airflow's own log of materialising an alias's asset, demo only.
        AIRFLOW__LOGGING__NAMESPACE_LEVELS="airflow.assets.manager=ERROR",
    )
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from airflow_provider_oktopost.testing import OktopostSandbox

    with OktopostSandbox(validation_delay=8) as sandbox:
        os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = sandbox.connection_json()
        step(f"Sandbox Oktopost API at {sandbox.base_url} (account {sandbox.account_id})")
        print(
            "New integrations start 'invalid' and become 'valid' after 8 seconds, like a real domain check."
        )

        step(f"Migrating a throwaway Airflow metadata database (SQLite, in a temporary {home.name})")
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)

        step(f"Running example_oktopost_onboarding with dag.test() for the host name {HOST}")
        import importlib.util

        from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom

        spec = importlib.util.spec_from_file_location("example_oktopost_onboarding", EXAMPLE)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        started = time.monotonic()
        run = run_dag(module.dag, run_conf={"host_name": HOST})
        elapsed = time.monotonic() - started

        step(f"DAG run finished: {run.state} in {elapsed:.1f}s")
        for task_id, state in sorted(task_states(run).items()):
            print(f"  {task_id:<18} {state}")
        print(f"\n  create_cname returned {xcom(run, 'create_cname')}")
        print(f"  connect returned      {xcom(run, 'connect')}")
        print(f"  report says           {xcom(run, 'report')}")

        step("What the sandbox saw")
        for cname in sandbox.cnames:
            print(f"  CNAME {cname['Id']}  name={cname['Name']}")
        for item in sandbox.integrations:
            print(
                f"  integration {item['Id']}  type={item['Type']}  cname={item['CnameId']}  "
                f"status={item['Status']}  state={item['State']}"
            )
        for req in sandbox.requests:
            query = "&".join(f"{k}={v}" for k, v in req.query.items())
            print(f"  {req.method:<6} {req.path}{'?' + query if query else ''} -> {req.status}")

        step("The asset event Airflow recorded (example_oktopost_onboarded_downstream is scheduled on it)")
        for event in _asset_events():
            print(f"  {event['uri']}  alias={event['aliases']}  task={event['task_id']}")
            print(f"    extra={event['extra']}")

        step(f"Running it again for {HOST}: the CNAME and the integration are reused, nothing is created")
        sandbox.clear_requests()
        again = run_dag(module.dag, run_conf={"host_name": HOST})
        created = sandbox.count(method="POST")
        print(f"  second run: {again.state}; POST requests sent: {created}")
        print(f"  CNAMEs: {len(sandbox.cnames)}, integrations: {len(sandbox.integrations)}")

    ok = (
        str(run.state).endswith("success")
        and str(again.state).endswith("success")
        and created == 0
        and len(sandbox.cnames) == len(sandbox.integrations) == 1
    )
    step("Demo succeeded" if ok else "Demo FAILED")
    return 0 if ok else 1


def _asset_events() -> list[dict[str, Any]]:
    """The ``asset_event`` rows of the metadata database (the demo reads it; task code never does)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = session.query(AssetEvent, AssetModel.uri)
        rows = query.join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        return [
            {
                "uri": uri,
                "extra": dict(event.extra or {}),
                "task_id": event.source_task_id,
                "aliases": sorted(alias.name for alias in event.source_aliases),
            }
            for event, uri in rows.order_by(AssetEvent.id)
        ]


if __name__ == "__main__":
    sys.exit(main())
