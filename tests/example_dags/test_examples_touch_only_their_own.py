"""Issue 10: an example DAG run changes or deletes only integrations that the same run created.

Run against an account that already has an integration of the example's type on the example's CNAME, the
examples leave it exactly as it was: no update, no delete, whatever the run's outcome.
"""

from __future__ import annotations

import pytest
from support import load_example

from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states

pytestmark = pytest.mark.airflow

CNAME = "0CN0000000000DD"


def test_lifecycle_leaves_an_existing_integration_alone(fast_time: OktopostSandbox) -> None:
    sandbox = fast_time
    existing = sandbox.add_integration(type="cd", cname_id=CNAME)
    before = sandbox.get(existing["Id"])
    run = run_dag(load_example("example_oktopost_lifecycle"), run_conf={"cname_id": CNAME})
    assert task_states(run)["connect"] == "failed"
    assert task_states(run)["delete"] == "upstream_failed"
    assert sandbox.integrations == [before]
    assert sandbox.count(method="DELETE") == 0
    assert sandbox.count(method="POST") == 0  # neither a connect nor an update
