"""A real ``airflow api-server`` with login required (the simple auth manager with known users and
passwords), for the Oktopost page tests; the same start-up as ``conftest.api_server`` otherwise.

Users: ``admin`` (role ADMIN, may read connections) and ``viewer`` (role VIEWER, may not). The provider's
plugins are loaded (``[core] lazy_discover_providers = False``: Airflow loads the plugins a provider lists
only then), and the budget store is ``budget_dir``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 120.0
PASSWORDS = {"admin": "admin-pass-7c1f", "viewer": "viewer-pass-93ab"}


@dataclass
class SecuredServer:
    """A running api-server (``url``) that requires a login, and a tiny REST client for it."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as error:
            return f"(cannot read {self.log_path}: {error})"

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, str]:
        """``(status, body text)`` of one call, with a Bearer token when given."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def token(self, username: str) -> str:
        """A JWT for ``username`` from ``POST /auth/token``."""
        status, text = self.request(
            "POST", "/auth/token", {"username": username, "password": PASSWORDS[username]}
        )
        assert status in (200, 201), (status, text)
        return str(json.loads(text)["access_token"])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def secured_api_server(workdir: Path, budget_dir: Path) -> Iterator[SecuredServer]:
    """Start the server, wait until it answers, stop it (SIGTERM, then SIGKILL of its group) at the end."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    passwords = workdir / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    log_path = workdir / "api-server.log"
    env = {
        **os.environ,
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager."
        "SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": "False",
        "AIRFLOW__OKTOPOST__BUDGET_DIR": str(budget_dir),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__WORKERS": "1",
    }
    env.pop("_AIRFLOW_PROCESS_CONTEXT", None)
    command = [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = SecuredServer(url, process, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"api-server exited while starting:\n{server.log_tail()}"
            try:
                with urllib.request.urlopen(f"{url}/api/v2/version", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers (401 without a login): it is up
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, f"api-server did not answer:\n{server.log_tail()}"
            time.sleep(0.25)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
