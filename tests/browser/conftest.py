"""Fixtures for the browser tests: a real ``airflow api-server``, headless Chromium, failure artifacts.

The api-server runs as a subprocess on a free port of 127.0.0.1 with the session's throwaway AIRFLOW_HOME
(``tests/conftest.py``), the simple auth manager with everyone as admin (no login page), and the Test
button enabled. Its output goes to a log file whose tail is printed when a test fails.

Chromium comes from the system (``/usr/bin/chromium``, Debian's package); Playwright never downloads a
browser here. Without Playwright or a Chromium the tests are skipped, except under ``CI``, where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
START_TIMEOUT = 90.0  # seconds for the api-server to answer; it normally takes ~6 s
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL_LINES = 80


# ---- the api-server ----------------------------------------------------------------------------------


@dataclass
class ApiServer:
    """A running ``airflow api-server`` and a tiny REST client for it (no auth: all users are admins)."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(cannot read {self.log_path}: {error})"
        return "\n".join(text.splitlines()[-lines:])

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """``(status, parsed JSON or text)`` of one REST call."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def delete_connection(self, conn_id: str) -> None:
        status, body = self.request("DELETE", f"/api/v2/connections/{conn_id}")
        assert status in (204, 404), (status, body)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's PID, then SIGKILL its process group (its own session) after a grace period."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # start_new_session=True: the group id is this PID
        process.wait(10)


@pytest.fixture(scope="module")
def api_server(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """``airflow api-server`` on a free port of 127.0.0.1, stopped by PID at the end of the module."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("api-server") / "api-server.log"
    env = {
        **os.environ,
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager."
        "SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__WORKERS": "1",
    }
    # The server decides its own process context (it needs the metastore secrets backend).
    env.pop("_AIRFLOW_PROCESS_CONTEXT", None)
    command = [
        sys.executable,
        "-m",
        "airflow",
        "api-server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = ApiServer(url=url, process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"airflow api-server exited with {process.returncode} while starting; "
                    f"log {log_path}:\n{server.log_tail()}",
                    pytrace=False,
                )
            try:
                with urllib.request.urlopen(f"{url}/api/v2/version", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"airflow api-server did not answer within {START_TIMEOUT:.0f} s; "
                    f"log {log_path}:\n{server.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.25)
        print(f"\nairflow api-server (pid {process.pid}) at {url}, log {log_path}")
        yield server
    finally:
        _stop(process)


# ---- the browser -----------------------------------------------------------------------------------------


def _unavailable(reason: str) -> None:
    """Skip locally; under CI a missing browser is a broken test environment, so fail loudly."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but the browser test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def _chromium_executable(playwright: Any) -> str | None:
    """The system Chromium, else one Playwright already manages (this suite never downloads one)."""
    for candidate in (SYSTEM_CHROMIUM, shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    try:
        managed = playwright.chromium.executable_path
    except Exception:
        return None
    return managed if managed and Path(managed).exists() else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright (module-scoped: launching costs ~0.5 s)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    manager = sync_playwright().start()
    try:
        executable = _chromium_executable(manager)
        if executable is None:
            _unavailable(f"no Chromium: install Debian's chromium package ({SYSTEM_CHROMIUM})")
        instance = manager.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
    finally:
        manager.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(
    browser: Any, api_server: ApiServer, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Any]:
    """A fresh browser context and page (1280x900); on failure its screenshot, HTML and the server log."""
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context(viewport=VIEWPORT, base_url=api_server.url)
    context.set_default_timeout(20_000)
    the_page = context.new_page()
    console: list[str] = []
    the_page.on("console", lambda msg: console.append(f"[{msg.type}] {msg.text}"))
    the_page.on("pageerror", lambda exc: console.append(f"[pageerror] {exc}"))
    try:
        yield the_page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            shot, html = tmp_path / "failure.png", tmp_path / "failure.html"
            try:
                the_page.screenshot(path=str(shot), full_page=True)
                html.write_text(the_page.content())
                print(f"\nfailure artifacts: {shot} and {html} (page URL {the_page.url})")
            except Exception as error:
                print(f"\ncould not save failure artifacts: {error}")
            if console:
                print("browser console:\n" + "\n".join(console[-40:]))
            print(
                f"api-server log ({api_server.log_path}), last {LOG_TAIL_LINES} lines:\n"
                f"{api_server.log_tail()}"
            )
        context.close()


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where the documentation screenshots go: ``$OKTOPOST_SCREENSHOT_DIR``, else the test's tmp dir."""
    configured = os.environ.get("OKTOPOST_SCREENSHOT_DIR")
    directory = Path(configured) if configured else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory
