"""The sandbox's tooling: remote client, server lifecycle, CLI, pytest plugin, OpenAPI document."""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests

from airflow_provider_oktopost.testing import (
    CONNECTION_ENV_VAR,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_API_KEY,
    Fault,
    OktopostSandbox,
    SandboxClient,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
AUTH = (DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != CONNECTION_ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sandbox_client_mirrors_the_python_api(sandbox: OktopostSandbox) -> None:
    me = f"{sandbox.base_url}/me"
    with SandboxClient(sandbox.base_url) as client:  # a /v2 suffix is tolerated
        assert client.root_url == sandbox.url
        config = client.configure(validation_delay=60, forbidden_keys={"disabled-key"})
        assert config == sandbox.config.to_dict() == client.config
        assert config["validation_delay"] == 60
        old = client.add_integration(type="ga", settings={"a": 1}, created=datetime(2024, 1, 1))  # naive: UTC
        assert (old["Created"], old["Status"], old["SettingsData"]) == (
            "2024-01-01 00:00:00",
            "valid",
            {"a": 1},
        )
        fresh = client.add_integration(cname_id=None)
        assert (fresh["Status"], fresh["CnameId"]) == ("invalid", None)
        assert client.advance(60) >= client.now() - 1
        assert client.get(fresh["Id"]) == sandbox.get(fresh["Id"])
        assert sandbox.get(fresh["Id"])["Status"] == "valid"  # type: ignore[index]
        assert client.get("014missing000000") is None
        client.set_status(fresh["Id"], "invalid")
        client.set_state(fresh["Id"], "disabled")
        assert client.integrations == sandbox.integrations
        assert (client.integrations[1]["Status"], client.integrations[1]["State"]) == ("invalid", "disabled")
        with pytest.raises(requests.HTTPError, match="404"):
            client.set_status("014missing000000", "valid")

        client.inject(Fault("status", status=503), {"kind": "drop", "method": "DELETE"})
        assert client.pending_faults == [Fault("status", status=503), Fault("drop", method="DELETE")]
        assert requests.get(me, auth=AUTH).status_code == 503
        client.clear_faults()
        assert client.pending_faults == sandbox.pending_faults == []
        with pytest.raises(requests.HTTPError, match="400"):
            client.inject({"kind": "status"})
        with pytest.raises(requests.HTTPError, match="422"):
            client.inject({"kind": "nope"})

        client.set_chaos(1.0, seed=1, kinds=["status500"])
        assert requests.get(me, auth=AUTH).status_code == 500
        client.set_chaos(0)
        client.add_account("001client000001", "client-key")
        assert requests.get(me, auth=("001client000001", "client-key")).status_code == 200
        assert requests.get(me, auth=(DEFAULT_ACCOUNT_ID, "disabled-key")).status_code == 403
        assert client.requests == sandbox.requests
        assert client.count("get", r"/v2/me") == sandbox.count("GET", r"/v2/me") == 4

        client.configure(rate_limit_per_minute=1)
        assert [requests.get(me, auth=AUTH).status_code for _ in range(2)] == [200, 429]
        assert client.rate_limited_count == sandbox.rate_limited_count == 1
        assert client.stats()["requests"] == 6
        client.clear_requests()
        assert client.requests == []

        client.reset()
        assert client.integrations == []
        assert client.config["rate_limit_per_minute"] == 1  # plain reset keeps the config
        client.reset(restore_config=True)
        assert client.config == {
            "validation_delay": 0.0,
            "rate_limit_per_minute": 60,
            "block_seconds": 900.0,
            "forbidden_keys": [],
            "rate_window_seconds": 60.0,
        }


def test_connection_settings(oktopost_connection_env: OktopostSandbox) -> None:
    sandbox = oktopost_connection_env
    conn = json.loads(os.environ[CONNECTION_ENV_VAR])
    assert conn == sandbox.connection_dict() == json.loads(sandbox.connection_json())
    assert conn == {
        "conn_type": "oktopost",
        "login": DEFAULT_ACCOUNT_ID,
        "password": DEFAULT_API_KEY,
        "host": sandbox.base_url,
    }
    assert requests.get(f"{conn['host']}/me", auth=(conn["login"], conn["password"])).status_code == 200


def test_lifecycle_port_conflict_and_quick_stop_with_a_request_in_flight() -> None:
    sandbox = OktopostSandbox(rate_limit_per_minute=None)
    assert not sandbox.running
    assert repr(sandbox) == "OktopostSandbox(not running)"
    with pytest.raises(RuntimeError):
        _ = sandbox.port
    with sandbox:
        assert sandbox.start() is sandbox  # idempotent
        url = f"{sandbox.base_url}/me"
        assert requests.get(url, auth=AUTH).status_code == 200
        with pytest.raises(OSError):
            OktopostSandbox(port=sandbox.port).start()
        sandbox.inject(Fault("delay", delay_seconds=30))
        errors: list[BaseException] = []

        def slow_call() -> None:
            try:
                requests.get(url, auth=AUTH, timeout=10)
            except requests.RequestException as exc:
                errors.append(exc)

        caller = threading.Thread(target=slow_call)
        caller.start()
        time.sleep(0.2)
        started = time.monotonic()
    assert time.monotonic() - started < 2
    caller.join(5)
    assert len(errors) == 1
    assert isinstance(errors[0], requests.exceptions.ConnectionError)
    assert not sandbox.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, auth=AUTH, timeout=2)
    with sandbox:  # restartable
        assert requests.get(f"{sandbox.base_url}/me", auth=AUTH).status_code == 200


def test_openapi_document_describes_the_api(sandbox: OktopostSandbox) -> None:
    doc = requests.get(f"{sandbox.url}/openapi.json").json()
    paths = doc["paths"]
    assert set(paths["/v2/me"]) == {"get"}
    assert set(paths["/v2/integration"]) == {"get", "post"}
    assert set(paths["/v2/integration/{integration_id}"]) == {"get", "post", "delete"}
    assert not [p for p in paths if p.startswith("/v2") and "rest" in p]
    for path in ("/v2/me", "/v2/integration", "/v2/integration/{integration_id}"):
        for operation in paths[path].values():
            assert operation["summary"]
            assert {"401", "429"} <= set(operation["responses"])
    listing = paths["/v2/integration"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"type", "_page", "_count"}
    connect = paths["/v2/integration"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert connect["schema"]["required"] == ["type", "cnameId"]
    assert any(s.get("scheme") == "basic" for s in doc["components"]["securitySchemes"].values())
    control = [op for p, ops in paths.items() if p.startswith("/_sandbox") for op in ops.values()]
    assert control
    assert all(op["tags"] == ["Sandbox control"] for op in control)
    assert sandbox.requests == []  # neither /openapi.json nor /_sandbox is logged


def test_package_does_not_import_airflow() -> None:
    code = (
        "import sys, airflow_provider_oktopost.testing, airflow_provider_oktopost.testing.pytest_plugin;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, env=_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cli_prints_settings_serves_and_stops_on_sigterm() -> None:
    port = _free_port()
    command = [sys.executable, "-m", "airflow_provider_oktopost.testing", "--port", str(port)]
    command += ["--api-key", "cli-key", "--seed-integrations", "3", "--validation-delay", "5"]
    proc = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read_stdout, daemon=True).start()
    try:
        seen: list[str] = []
        while not seen or "listening on" not in seen[-1]:
            seen.append(lines.get(timeout=30))
        base = f"http://127.0.0.1:{port}/v2"
        assert seen[-1] == f"Oktopost sandbox listening on {base}\n"
        export = next(line for line in seen if line.startswith("export "))
        name, _, value = shlex.split(export)[1].partition("=")
        assert name == CONNECTION_ENV_VAR
        assert json.loads(value) == {
            "conn_type": "oktopost",
            "login": DEFAULT_ACCOUNT_ID,
            "password": "cli-key",
            "host": base,
        }
        assert any("cli-key" in line for line in seen[:-1])
        assert requests.get(f"{base}/me", auth=(DEFAULT_ACCOUNT_ID, "cli-key")).status_code == 200
        listed = requests.get(f"{base}/integration", auth=(DEFAULT_ACCOUNT_ID, "cli-key")).json()
        assert (listed["Total"], {i["Status"] for i in listed["Items"]}) == (3, {"invalid"})
        assert SandboxClient(f"http://127.0.0.1:{port}").config["validation_delay"] == 5
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_pytest_plugin_fixtures_when_opted_in(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["airflow_provider_oktopost.testing.pytest_plugin"]\n'
    )
    (tmp_path / "test_uses_plugin.py").write_text(
        textwrap.dedent(
            """
            import json, os
            import requests

            def test_dirty_the_sandbox(oktopost_sandbox):
                oktopost_sandbox.add_integration()
                oktopost_sandbox.configure(validation_delay=99)
                oktopost_sandbox.advance(10)

            def test_next_test_gets_a_clean_sandbox(oktopost_sandbox, oktopost_sandbox_server):
                assert oktopost_sandbox is oktopost_sandbox_server and oktopost_sandbox.running
                assert oktopost_sandbox.integrations == []
                assert oktopost_sandbox.config.validation_delay == 0
                assert oktopost_sandbox.state.clock_offset == 0

            def test_connection_env(oktopost_connection_env):
                conn = json.loads(os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"])
                response = requests.get(conn["host"] + "/me", auth=(conn["login"], conn["password"]))
                assert response.status_code == 200

            def test_env_is_restored():
                assert "AIRFLOW_CONN_OKTOPOST_DEFAULT" not in os.environ
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        check=False,
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
