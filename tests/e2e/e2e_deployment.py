"""The Airflow deployment the end-to-end tests run against: what it is made of and how to look inside it.

:class:`Deployment` starts, in a fresh ``AIRFLOW_HOME`` of its own, the Oktopost sandbox
(``python -m airflow_provider_oktopost.testing``) and Airflow's ``api-server``, ``scheduler``,
``dag-processor`` and ``triggerer`` (LocalExecutor, SQLite), waits until they are healthy and the example
DAGs are listed, polls DAG runs through REST, and reads what Airflow leaves behind (task and trigger logs,
the metadata database). Starting and stopping the processes themselves, by process group and with proof
that none survived, is :class:`e2e_processes.ProcessSet`'s job; the REST client is in ``e2e_rest``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import requests
from e2e_processes import Component, DeploymentError, ProcessSet, describe, free_port, group_members, tail
from e2e_rest import AirflowRest, RunWatch

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "example_dags"
EXAMPLE_DAG_IDS = frozenset(
    {
        "example_oktopost_audit",
        "example_oktopost_bulk_onboarding",
        "example_oktopost_lifecycle",
        "example_oktopost_onboarding",
        "example_oktopost_smoke_test",
    }
)
POOL = "oktopost_api"
MARKER = "OKTOPOST_E2E_DEPLOYMENT"  # env var set in every process this module starts
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")

START_TIMEOUT = 120.0  # seconds for the whole deployment to become healthy (normally ~15 s)
POLL = 0.5  # seconds between REST polls


class Deployment(ProcessSet):
    """Sandbox + api-server + scheduler + dag-processor + triggerer, in ``root`` (a fresh tmp dir)."""

    stop_order = ("triggerer", "scheduler", "dag-processor", "api-server", "sandbox")

    def __init__(self, root: Path, *, validation_delay: float = 12.0) -> None:
        super().__init__(root, root / "logs", f"{MARKER}={uuid.uuid4().hex}")
        self.home = root / "airflow-home"
        self.home.mkdir(parents=True)
        self.logs.mkdir()
        self.validation_delay = validation_delay
        self.api_port = free_port()
        self.sandbox_port = free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.rest = AirflowRest(self.url)
        self.connection_json: str | None = None
        self._api_secret = secrets.token_urlsafe(24)
        #: The Oktopost key of this deployment: random, so that finding it anywhere is a leak.
        self.api_key = f"e2e-key-{secrets.token_urlsafe(18)}"
        self._jwt_secret = secrets.token_urlsafe(32)
        self._worker_log_port = free_port()
        self._trigger_log_port = free_port()
        #: Settings added to every Airflow component started from now on (a control run's, say).
        self.overrides: dict[str, str] = {}

    # -- environment --

    def airflow_env(self) -> dict[str, str]:
        assert self.connection_json is not None, "start the sandbox first"
        db = self.home / "airflow.db"
        return {
            **self.base_env(),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": self._api_secret,
            "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self._worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self._trigger_log_port),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW_CONN_OKTOPOST_DEFAULT": self.connection_json,
            **self.overrides,
        }

    @property
    def db_path(self) -> Path:
        return self.home / "airflow.db"

    # -- starting --

    def _airflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *args]

    def run_cli(self, name: str, *args: str, timeout: float = 180.0) -> None:
        """A one-shot ``airflow`` command with the deployment's environment; fails with its log."""
        log_path = self.logs / f"{name}.log"
        with log_path.open("wb") as log:
            result = subprocess.run(
                self._airflow(*args),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.airflow_env(),
                cwd=self.root,
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            raise DeploymentError(f"airflow {' '.join(args)} exited {result.returncode}:\n{tail(log_path)}")

    def start_sandbox(self) -> None:
        component = self._spawn(
            "sandbox",
            [
                sys.executable,
                "-m",
                "airflow_provider_oktopost.testing",
                "--port",
                str(self.sandbox_port),
                "--validation-delay",
                str(self.validation_delay),
                "--api-key",
                self.api_key,
                "--rate-limit",
                "0",
                "--log-level",
                "info",
            ],
            self.base_env(),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = component.log_path.read_text(errors="replace")
            if "Oktopost sandbox listening on" in text:
                for line in text.splitlines():
                    if line.startswith("export AIRFLOW_CONN_OKTOPOST_DEFAULT="):
                        self.connection_json = shlex.split(line.split("=", 1)[1])[0]
                assert self.connection_json, f"no connection line in the sandbox output:\n{text}"
                return
            if not component.running():
                break
            time.sleep(0.1)
        raise DeploymentError(f"the sandbox did not start:\n{tail(component.log_path)}")

    def start_component(self, name: str) -> Component:
        args = {"api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)]}
        return self._spawn(name, self._airflow(*args.get(name, [name])), self.airflow_env())

    def start(self) -> None:
        """Sandbox, ``db migrate``, the pool, the four components; returns once all are healthy."""
        self.start_sandbox()
        self.start_services()
        self.run_cli("db-migrate", "db", "migrate")
        self.run_cli("pools-set", "pools", "set", POOL, "4", "Oktopost API calls")
        for name in AIRFLOW_COMPONENTS:
            self.start_component(name)
        self.start_workers()
        self.wait_healthy()
        self.wait_for_dags()

    def start_services(self) -> None:
        """What the deployment needs before Airflow starts (nothing here; a broker for Celery)."""

    def start_workers(self) -> None:
        """Workers beside the four components (none here: the LocalExecutor runs tasks itself)."""

    def health(self) -> dict[str, Any]:
        response = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """Until ``/api/v2/monitor/health`` reports the database and every component healthy."""
        deadline, last = time.monotonic() + timeout, "no answer yet"
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                health = self.health()
            except (requests.RequestException, ValueError) as error:
                last = repr(error)
            else:
                last = json.dumps(health)
                parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
                if all((health.get(part) or {}).get("status") == "healthy" for part in parts):
                    self.rest.authenticate()
                    return health
            time.sleep(POLL)
        raise DeploymentError(f"not healthy within {timeout:.0f} s; last health: {last}\n{self.diagnosis()}")

    def wait_for_dags(self, timeout: float = START_TIMEOUT) -> None:
        """Until the four example DAGs are listed through REST (and fail at once on import errors)."""
        deadline, listed = time.monotonic() + timeout, set()
        while time.monotonic() < deadline:
            self.check_alive()
            errors = self.rest.call("GET", "/importErrors")
            if errors["total_entries"]:
                raise DeploymentError(f"DAG import errors: {json.dumps(errors['import_errors'], indent=1)}")
            dags = self.rest.call("GET", "/dags", dag_id_pattern="example_oktopost", limit=100)["dags"]
            listed = {dag["dag_id"] for dag in dags}
            if listed >= EXAMPLE_DAG_IDS:
                return
            time.sleep(POLL)
        raise DeploymentError(f"only {sorted(listed)} listed after {timeout:.0f} s\n{self.diagnosis()}")

    def restart_triggerer(self) -> tuple[Component, Component]:
        """SIGTERM the triggerer's process group, check it is gone, start a new one; (old, new)."""
        old = self.components["triggerer"]
        needed_kill = old.stop()
        if needed_kill:
            raise DeploymentError(f"the triggerer ignored SIGTERM: {needed_kill}\n{tail(old.log_path)}")
        survivors = group_members(old.pgid)
        assert not survivors, f"triggerer processes survived: {describe(survivors)}"
        self.retired.append(old)
        return old, self.start_component("triggerer")

    def restart_component(self, name: str) -> Component:
        """Stop a component's process group and start it again with the present :meth:`airflow_env`."""
        old = self.components[name]
        if old.stop():
            raise DeploymentError(f"{name} needed SIGKILL\n{tail(old.log_path)}")
        self.retired.append(old)
        return self.start_component(name)

    # -- looking inside --

    def task_logs(self, dag_id: str, run_id: str, lines: int = 40) -> str:
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        parts = []
        for path in sorted(folder.rglob("*.log*")) if folder.exists() else []:
            parts.append(f"----- task log {path.relative_to(folder)} -----\n{tail(path, lines)}")
        return "\n".join(parts) or f"(no task logs under {folder})"

    def trigger_log(
        self, dag_id: str, run_id: str, task_id: str, triggerer_job: int, map_index: int = -1
    ) -> list[dict[str, Any]]:
        """The records a triggerer process (by its job id) wrote for one task instance's trigger.

        Trigger log lines do not go to the triggerer's stdout: the triggerer writes them next to the task's
        own log, as ``attempt=N.log.trigger.<triggerer job id>.log`` (JSON lines).
        """
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder = folder / f"map_index={map_index}"
        records = []
        for path in sorted(folder.glob(f"attempt=*.log.trigger.{triggerer_job}.log")):
            for line in path.read_text(errors="replace").splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    records.append({"event": line})
        return records

    def query(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Read the metadata database (read-only; Airflow keeps writing to it)."""
        with closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)) as con:
            con.row_factory = sqlite3.Row
            return list(con.execute(sql, params))

    def trigger_kwargs(self, trigger_id: int) -> dict[str, Any] | None:
        """A trigger row's kwargs, decrypted with the deployment's Fernet key; ``None`` once it is gone."""
        from cryptography.fernet import Fernet

        rows = self.query("SELECT kwargs FROM trigger WHERE id = ?", trigger_id)
        if not rows:
            return None
        raw = rows[0]["kwargs"]
        text = raw if raw.startswith("{") else Fernet(self.fernet_key.encode()).decrypt(raw.encode()).decode()
        return dict(_plain(json.loads(text)))

    def trigger_timeout(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> datetime | None:
        """The TI's ``trigger_timeout`` column (Airflow's own deadline for the deferral)."""
        rows = self.query(
            "SELECT trigger_timeout FROM task_instance"
            " WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?",
            dag_id,
            run_id,
            task_id,
            map_index,
        )
        value = rows[0]["trigger_timeout"] if rows else None
        # SQLite keeps Airflow's UTC datetimes naive.
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None

    # -- DAG runs --

    def watch(
        self,
        watch: RunWatch,
        *,
        timeout: float,
        until: Callable[[RunWatch], bool] | None = None,
    ) -> RunWatch:
        """Poll the run and its task instances until it finishes (or ``until`` holds); record the states."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            watch.state = self.rest.dag_run(watch.dag_id, watch.run_id)["state"]
            watch.record(self.rest.task_instances(watch.dag_id, watch.run_id))
            if (until is not None and until(watch)) or (
                until is None and watch.state in ("success", "failed")
            ):
                return watch
            if time.monotonic() > deadline:
                raise DeploymentError(
                    f"timed out after {timeout:.0f} s waiting for "
                    f"{'the condition' if until else 'the run to finish'}\n" + self.run_diagnosis(watch)
                )
            time.sleep(POLL)

    def run_diagnosis(self, watch: RunWatch) -> str:
        return "\n".join(
            [
                watch.summary(),
                "task instances: "
                + json.dumps(
                    [
                        {k: ti.get(k) for k in ("task_id", "map_index", "state", "try_number")}
                        for ti in watch.last
                    ]
                ),
                self.task_logs(watch.dag_id, watch.run_id),
                self.diagnosis(),
            ]
        )


D = TypeVar("D", bound=Deployment)


@contextmanager
def running(deployment: D) -> Iterator[D]:
    """``deployment`` started and healthy (the start time and where its logs are printed) for the
    ``with`` block, then stopped whatever happened: every test module's ``deployment`` fixture is this."""
    started = time.monotonic()
    try:
        deployment.start()
        print(
            f"\n{type(deployment).__name__} up in {time.monotonic() - started:.0f} s: Airflow at "
            f"{deployment.url}, sandbox at {deployment.sandbox_url}, logs in {deployment.logs}"
        )
        yield deployment
    finally:
        try:
            deployment.stop()
        finally:
            print(f"\ndeployment stopped; seconds per component: {deployment.stop_times}")


def _plain(value: Any) -> Any:
    """Unwrap Airflow's serialization envelopes (serde ``__data__``, BaseSerialization ``__var``)."""
    if isinstance(value, dict):
        for envelope in ("__data__", "__var"):
            if envelope in value:
                return _plain(value[envelope])
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
