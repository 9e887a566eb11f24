"""Issue 6: templated arguments that render to bad values fail the task, at once and without retries, with
the same clear errors naming the parameter, before any request (a real ``dag.test`` run).

Each message is tied to the task that raised it (several tasks share a message), from the best evidence the
running Airflow gives:

- 3.2 and 3.3 pass the ``AirflowFailException`` to the task's failure callback, which records it with the
  task's id (``dags/reliability_bad_templates.py``);
- 3.0's ``dag.test`` runs no failure callback but prints each task's exception between the task's
  ``[DAG TEST] starting task_id=...`` marker and the next task's start;
- 3.1's ``dag.test`` does neither (its task runner drops an ``AirflowFailException`` before the callback
  and prints no task exception): there the test checks the states, the single try and that no request was
  sent, not the messages.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version

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
_MESSAGE = re.compile(r"AirflowFailException: Invalid argument after rendering templates: [^\n]*")
#: Where the messages can be observed (see the module docstring).
MESSAGES_OBSERVABLE = not airflow_version.startswith("3.1.")


def task_sections(out: str) -> dict[str, str]:
    """The console output of each task of a ``dag.test`` run: from its start marker to the next one."""
    sections: dict[str, str] = {}
    starts = list(_START.finditer(out))
    for index, start in enumerate(starts):
        following = starts[index + 1].start() if index + 1 < len(starts) else len(out)
        assert start.group(1) not in sections, f"{start.group(1)} ran twice"
        sections[start.group(1)] = out[start.end() : following]
    return sections


def failure_messages(failures: Path, out: str) -> dict[str, str]:
    """Each failed task's message: from its failure callback where it got one, else from its console section.

    Only the ``Invalid argument ...`` line of a section counts, so a message printed by one task cannot be
    credited to another.
    """
    recorded = [json.loads(line) for line in failures.read_text().splitlines()] if failures.exists() else []
    by_task = {line["task_id"]: line for line in recorded}
    assert len(by_task) == len(recorded), recorded  # one callback per failed task: none was retried
    messages = {
        task_id: f"{line['error_type']}: {line['error']}"
        for task_id, line in by_task.items()
        if line["error_type"] != "NoneType"
    }
    for task_id, section in task_sections(out).items():
        if task_id not in messages:
            found = _MESSAGE.search(section)
            if found:
                messages[task_id] = found.group(0)
    return messages


def test_bad_rendered_values_fail_every_task_before_any_request(
    airflow_db: Path,
    rsandbox: OktopostSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    failures = tmp_path / "failures.jsonl"
    monkeypatch.setenv("OKTOPOST_TEST_FAILURES", str(failures))
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
    messages = failure_messages(failures, out)
    if MESSAGES_OBSERVABLE:
        assert set(messages) == set(EXPECTED), sorted(messages)
        for task_id, text in EXPECTED.items():
            expected = f"AirflowFailException: Invalid argument after rendering templates: {text}"
            assert messages[task_id].startswith(expected), (task_id, messages[task_id])
    assert rsandbox.count() == 0  # no request reached the API
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert all(ti.try_number == 1 for ti in tis.values())  # failed for good, not retried
