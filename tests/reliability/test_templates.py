"""Issue 6: templated arguments that render to bad values fail the task, at once and without retries, with
the same clear errors naming the parameter, before any request (a real ``dag.test`` run).

``dag.test`` runs the tasks one after another in this process and brackets each one's output with
``[DAG TEST] starting task_id=...`` and ``[DAG TEST] end task task_id=...``: each expected message is looked
for in its own task's section, so a message that several tasks share proves something for each of them.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states

pytestmark = pytest.mark.airflow
DAG_FILE = Path(__file__).parent / "dags" / "reliability_bad_templates.py"

EXPECTED = {
    "connect_bad_type": "integration_type must be an integration type",
    "connect_bad_cname": "cname_id must be a non-empty Oktopost ID",
    "connect_bad_settings": "settings must be a dict, or a string holding a JSON object",
    "update_bad_id": "integration_id must be a non-empty Oktopost ID",
    "update_bad_state": "state must be one of 'active', 'disabled'",
    "delete_bad_id": "integration_id must be a non-empty Oktopost ID",
    "list_bad_status": "status must be one of 'valid', 'invalid'",
    "sensor_bad_id": "integration_id must be a non-empty Oktopost ID",
    "sensor_bad_id_deferrable": "integration_id must be a non-empty Oktopost ID",
}


_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=-?\d+")


def task_sections(out: str) -> dict[str, str]:
    """The output of each task of a ``dag.test`` run, from its start marker to its end marker."""
    sections: dict[str, str] = {}
    starts = list(_START.finditer(out))
    for index, start in enumerate(starts):
        task_id = start.group(1)
        # The next task's start bounds this one's output: tasks run one after another. Airflow 3.3 also
        # prints an end marker; 3.0 prints none for a task that failed.
        following = starts[index + 1].start() if index + 1 < len(starts) else len(out)
        end = out.find(f"[DAG TEST] end task task_id={task_id} ", start.end(), following)
        assert task_id not in sections, f"{task_id} ran twice"
        sections[task_id] = out[start.end() : end if end > 0 else following]
    return sections


def test_bad_rendered_values_fail_every_task_before_any_request(
    airflow_db: Path, rsandbox: OktopostSandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("reliability_bad_templates", DAG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    capfd.readouterr()
    run = run_dag(
        module.dag,
        run_conf={
            "type": "c d",
            "path": "../../me",
            "settings": "{not json",
            "state": "paused",
            "query": "014abc?x=1#y",
            "unicode": "014\u202eabc",
            "empty": "",
        },
    )
    out = "".join(capfd.readouterr())
    states = task_states(run)
    assert states == dict.fromkeys(EXPECTED, "failed"), states
    sections = task_sections(out)
    assert set(sections) == set(EXPECTED), sorted(sections)
    for task_id, text in EXPECTED.items():
        section = sections[task_id]
        assert f"Invalid argument after rendering templates: {text}" in section, (task_id, section[-2000:])
    assert rsandbox.count() == 0  # no request reached the API
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert all(ti.try_number == 1 for ti in tis.values())  # failed for good, not retried
