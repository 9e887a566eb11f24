"""The deployment secrets audit with every process logging at DEBUG, the HTTP libraries included.

``tests/e2e/test_deployment.py`` audits a deployment logging at INFO. The risky lines are the HTTP
libraries' DEBUG ones (``urllib3``, ``httpcore``: requests, connections), which only the in-process audit
(``tests/reliability/test_secrets_audit.py``) turned on. Here a deployment of its own runs with
``[logging] logging_level = DEBUG`` in every process (the task processes inherit the scheduler's
environment) and ``namespace_levels`` raising the HTTP libraries and the provider. ``namespace_levels``
alone is not enough in a deployment: it lifts Airflow's structlog loggers, but a task process's stdlib
handler stays at ``logging_level``, so with the core at INFO no ``urllib3`` DEBUG line reached a task log
(seen when this test was written). Airflow caps ``httpx`` at WARNING in its processes' logging
configuration, which ``namespace_levels`` does not lift, so the triggerer's DEBUG lines of the async client
are ``httpcore``'s.

The onboarding DAG runs through a real deferral, then every file of the deployment, the metadata database
and every component's output are searched for the key and its Basic-auth token. The audit cannot pass over
nothing: the task logs must hold ``urllib3`` DEBUG lines for the API's ``/v2/`` paths and the trigger logs
``httpcore`` DEBUG lines, and the same search must report the key and the token planted in copies of both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_deployment import Deployment, running
from e2e_runs import assert_key_in_no_file, assert_planted_secrets_found, onboard_through_a_deferral, run_logs

from airflow_provider_oktopost.testing.client import SandboxClient

pytestmark = pytest.mark.e2e

#: The loggers raised to DEBUG by name, as the in-process audit does (the core is at DEBUG too, see above).
NAMESPACES = ("urllib3", "requests", "httpx", "httpcore", "airflow_provider_oktopost")


class DebugDeployment(Deployment):
    """The shared deployment, with every process (and the HTTP libraries in it) logging at DEBUG."""

    def airflow_env(self) -> dict[str, str]:
        return {
            **super().airflow_env(),
            "AIRFLOW__LOGGING__NAMESPACE_LEVELS": " ".join(f"{name}=DEBUG" for name in NAMESPACES),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        }


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """This module's own deployment (it replaces the conftest's: that one logs at INFO)."""
    with running(DebugDeployment(tmp_path_factory.mktemp("e2e-debug-deployment"))) as deployed:
        yield deployed


def _records(paths: list[Path]) -> list[dict[str, Any]]:
    records = []
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                record = {"event": line}
            records.append(record if isinstance(record, dict) else {"event": line})
    return records


def _debug_lines(
    records: list[dict[str, Any]], loggers: tuple[str, ...], path: str = ""
) -> list[dict[str, Any]]:
    """DEBUG records of ``loggers`` that mention ``path``."""
    return [
        r
        for r in records
        if str(r.get("logger", "")).startswith(loggers)
        and str(r.get("level", "")).lower() == "debug"
        and path in json.dumps(r)
    ]


def test_the_key_is_in_no_file_with_the_http_libraries_at_debug(
    deployment: Deployment, held: SandboxClient, tmp_path: Path
) -> None:
    onboard_through_a_deferral(deployment, held, "debug.e2e.example.com")
    task_logs, trigger_logs = run_logs(deployment)
    # The risky lines are there to search: the workers' requests calls (urllib3, for the API's paths) and the
    # triggerer's httpx client (httpcore), at DEBUG.
    assert _debug_lines(_records(task_logs), ("urllib3",), "/v2/"), "no urllib3 DEBUG line in the task logs"
    assert _debug_lines(_records(trigger_logs), ("httpcore",)), "no httpcore DEBUG line in the trigger logs"

    needles = assert_key_in_no_file(deployment, task_logs + trigger_logs)
    # The same search reports the key and the token when they are there (copies of one log of each kind).
    token = needles[1].decode()
    plants = [
        (task_logs[0], f"DEBUG Authorization: {deployment.api_key}"),
        (trigger_logs[0], f"DEBUG Authorization: {token}"),
    ]
    assert_planted_secrets_found(tmp_path, needles, plants)
