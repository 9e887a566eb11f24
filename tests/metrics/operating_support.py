"""Run the operating DAG (``dags/oktopost_operating.py``) in a fresh process, with Airflow's StatsD metrics
sent to a real UDP listener of this process.

A fresh process, because Airflow reads ``[metrics]`` once per process (3.0 when ``airflow.stats`` is first
imported, 3.3 when the stats backend is first used): the test's settings must be in place before that.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_oktopost.testing import Fault, OktopostSandbox

DAG_FILE = Path(__file__).parent / "dags" / "oktopost_operating.py"
ONE = r"/v2/integration/[^/]+"
#: Seconds of the block after the 429 (longer than the run's budget_max_wait: the task defers).
BLOCK = 6


class StatsdListener:
    """A UDP socket on 127.0.0.1 that keeps every datagram it receives (StatsD lines)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.lines.extend(data.decode(errors="replace").splitlines())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@dataclass
class OperatingRun:
    """What one run left: task states, the process's output, the StatsD lines received."""

    states: dict[str, str]
    output: str
    budget_dir: Path
    lines: list[str] = field(default_factory=list)

    def metric(self, name: str) -> list[tuple[float, str]]:
        """``(value, type)`` of every datagram named ``airflow.<name>`` (exactly)."""
        found = []
        for line in self.lines:
            stat, _, rest = line.partition(":")
            if stat == f"airflow.{name}":
                value, _, kind = rest.partition("|")
                found.append((float(value), kind.split("|")[0]))
        return found


def prepare(sandbox: OktopostSandbox) -> dict[str, str]:
    """250 integrations (three pages), a 429 on the first delete and update, one that turns valid later."""
    for _ in range(248):
        sandbox.add_integration(status="valid")
    target = sandbox.add_integration(status="valid")
    disabled = sandbox.add_integration(status="valid")
    sandbox.hold_validation(True)
    waited = sandbox.add_integration(status=None)
    sandbox.hold_validation(False)
    refused = {"Retry-After": str(BLOCK)}
    sandbox.inject(
        Fault(kind="status", status=429, method="DELETE", path=ONE, headers=refused),
        Fault(kind="status", status=429, method="POST", path=ONE, headers=refused),
    )
    return {"delete": target["Id"], "disable": disabled["Id"], "wait": waited["Id"]}


def _release_when_polled(sandbox: OktopostSandbox, integration_id: str) -> None:
    """Turn the waited-for integration valid once it was read twice (the second read is the poller's)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if sandbox.count("GET", rf"/v2/integration/{integration_id}$") >= 2:
            sandbox.release_validation()
            return
        time.sleep(0.2)


def run_operating_dag(
    sandbox: OktopostSandbox,
    budget_dir: Path,
    statsd_port: int | None,
    extra_env: dict[str, str] | None = None,
) -> OperatingRun:
    """Run the DAG once in a new process; metrics go to ``statsd_port`` (None: metrics off)."""
    conf = prepare(sandbox)
    connection = {**sandbox.connection_dict(), "extra": {"rate_limit_per_minute": 1}}
    env = {
        **os.environ,
        "AIRFLOW_CONN_OKTOPOST_DEFAULT": json.dumps(connection),
        "AIRFLOW__OKTOPOST__BUDGET_DIR": str(budget_dir),
        "OKTOPOST_TESTING_BUDGET_WINDOW_SECONDS": "2",
        "AIRFLOW__OKTOPOST__BUDGET_MAX_WAIT": "3",
        "AIRFLOW__API__BASE_URL": "http://airflow.example:8080",
        "AIRFLOW__METRICS__STATSD_ON": "False",
        **(extra_env or {}),
    }
    if statsd_port is not None:
        env |= {
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(statsd_port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        }
    releaser = threading.Thread(target=_release_when_polled, args=(sandbox, conf["wait"]), daemon=True)
    releaser.start()
    result = subprocess.run(
        [sys.executable, str(DAG_FILE), json.dumps(conf)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    sandbox.release_validation()
    output = result.stdout + result.stderr
    states = {}
    for line in result.stdout.splitlines():
        if line.startswith("STATE "):
            _, task_id, state = line.split()
            states[task_id] = state
    assert result.returncode == 0, output[-6000:]
    return OperatingRun(states, output, budget_dir)


def summary(run: Any) -> str:
    """The end of a run's output, for assertion messages."""
    return str(run.output)[-6000:]
