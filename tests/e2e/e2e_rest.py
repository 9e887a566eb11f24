"""How the end-to-end tests talk to the deployment's api-server, and what they keep of a polled DAG run.

:class:`AirflowRest` is the small REST client the tests use (``/api/v2``, token from ``/auth/token``): it
drives the example DAGs the way an operator would (unpause, trigger, read task instances and XComs), and
any non-2xx answer raises :class:`~e2e_processes.DeploymentError` with the server's reply. :class:`RunWatch`
records what polling one DAG run saw (each task instance's states in order, the triggers it deferred to),
for :meth:`e2e_deployment.Deployment.watch` to fill and the tests to assert on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from e2e_processes import DeploymentError


class AirflowRest:
    """``/api/v2`` of the deployment's api-server, with a bearer token when the server hands one out."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def authenticate(self) -> None:
        """With ``simple_auth_manager_all_admins`` a token comes without credentials (``GET /auth/token``)."""
        response = self.session.get(f"{self.url}/auth/token", timeout=10)
        if response.ok and "access_token" in response.json():
            self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.session.request(
            method, f"{self.url}/api/v2{path}", json=body, params=params or None, timeout=30
        )
        if not response.ok:
            raise DeploymentError(f"{method} /api/v2{path} -> {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def unpause(self, dag_id: str) -> None:
        result = self.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
        assert result["is_paused"] is False, result

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return str(run["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        result = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)
        return list(result["task_instances"])

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        entry = self.call(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
            map_index=map_index,
            deserialize=True,
        )
        return entry["value"]


def ti_key(ti: dict[str, Any]) -> str:
    return ti["task_id"] if ti.get("map_index", -1) < 0 else f"{ti['task_id']}[{ti['map_index']}]"


@dataclass
class RunWatch:
    """What polling one DAG run saw: the states each task instance went through, in order."""

    dag_id: str
    run_id: str
    state: str | None = None
    seen: dict[str, list[str]] = field(default_factory=dict)
    triggers: dict[str, set[tuple[int, str, int | None]]] = field(default_factory=dict)
    last: list[dict[str, Any]] = field(default_factory=list)

    def record(self, tis: list[dict[str, Any]]) -> None:
        self.last = tis
        for ti in tis:
            states = self.seen.setdefault(ti_key(ti), [])
            state = str(ti.get("state"))
            if not states or states[-1] != state:
                states.append(state)
            trigger = ti.get("trigger")
            if trigger:  # (trigger id, classpath, triggerer job id) while the TI is deferred
                self.triggers.setdefault(ti_key(ti), set()).add(
                    (trigger["id"], trigger["classpath"], trigger.get("triggerer_id"))
                )

    def ti(self, task_id: str, map_index: int = -1) -> dict[str, Any] | None:
        for ti in self.last:
            if ti["task_id"] == task_id and ti.get("map_index", -1) == map_index:
                return ti
        return None

    def summary(self) -> str:
        lines = [f"run {self.dag_id}/{self.run_id}: {self.state}"]
        for key, states in sorted(self.seen.items()):
            lines.append(f"  {key}: {' -> '.join(states)}")
        return "\n".join(lines)
