"""The deployment of ``e2e_deployment`` with the CeleryExecutor, shaped like the official docker-compose file.

:class:`CeleryDeployment` adds to :class:`~e2e_deployment.Deployment` a real ``redis-server`` (the broker,
and Celery's result backend) and two ``airflow celery worker`` processes. Every component gets the same
Airflow settings, as ``x-airflow-common`` gives every container; each worker has an ``AIRFLOW_HOME`` of its
own (``/opt/airflow`` inside each container is not shared: only dags, logs, config and plugins are mounted,
so the logs folder is shared here too) and its own ``--celery-hostname``. Nothing is set for the budget.
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from e2e_deployment import Deployment
from e2e_processes import Component, DeploymentError, free_port, tail

WORKERS = ("worker-1", "worker-2")
#: Task slots per worker: two workers, four slots, as the LocalExecutor deployment's parallelism.
CONCURRENCY = 2


class CeleryDeployment(Deployment):
    """Sandbox, redis-server, api-server, scheduler, dag-processor, triggerer and two Celery workers."""

    stop_order = ("worker-1", "worker-2", *Deployment.stop_order, "redis")

    def __init__(self, root: Path, *, validation_delay: float = 12.0) -> None:
        super().__init__(root, validation_delay=validation_delay)
        self.redis_port = free_port()
        self.broker_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self._worker_ports = {name: free_port() for name in WORKERS}

    def airflow_env(self) -> dict[str, str]:
        return {
            **super().airflow_env(),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"redis://127.0.0.1:{self.redis_port}/1",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(CONCURRENCY),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),  # the mounted logs folder
        }

    def worker_home(self, name: str) -> Path:
        return self.root / f"{name}-home"

    def start_services(self) -> None:
        """The broker: a real redis-server."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise DeploymentError("redis-server is not installed (scripts/env.sh ensure_redis)")
        directory = self.root / "redis"
        directory.mkdir(exist_ok=True)
        options = ["--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(directory)]
        component = self._spawn(
            "redis", [binary, *options, "--save", "", "--appendonly", "no"], self.base_env()
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.2):
                    return
            except OSError:
                if not component.running():
                    break
                time.sleep(0.1)
        raise DeploymentError(f"redis-server did not start:\n{tail(component.log_path)}")

    def start_worker(self, name: str) -> Component:
        """``airflow celery worker`` in a home of its own, like one worker container."""
        home = self.worker_home(name)
        home.mkdir(exist_ok=True)
        env = {
            **self.airflow_env(),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self._worker_ports[name]),
        }
        argv = self._airflow(
            "celery", "worker", "--celery-hostname", f"{name}@e2e", "--concurrency", str(CONCURRENCY)
        )
        return self._spawn(name, argv, env)

    def start_workers(self) -> None:
        for name in WORKERS:
            self.start_worker(name)
        self.wait_workers()

    def restart_workers(self) -> None:
        """Stop both workers (by process group) and start them again (with the present ``overrides``)."""
        for name in WORKERS:
            old = self.components[name]
            if old.stop():
                raise DeploymentError(f"{name} needed SIGKILL\n{tail(old.log_path)}")
            self.retired.append(old)
        for name in WORKERS:
            self.start_worker(name)
        self.wait_workers()

    def wait_workers(self, timeout: float = 120.0) -> None:
        """Until both workers say Celery's ``ready.``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            logs = [self.components[name].log_path.read_text(errors="replace") for name in WORKERS]
            if all(" ready." in text for text in logs):
                return
            time.sleep(0.5)
        raise DeploymentError(f"the Celery workers were not ready within {timeout:.0f} s\n{self.diagnosis()}")
