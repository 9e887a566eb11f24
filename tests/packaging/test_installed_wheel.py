"""The wheel installed (not editable) into a clean venv works as a user gets it.

``airflow providers list`` shows it with the source version, the ``oktopost`` connection type is
registered, the sandbox starts from its console command, and an example DAG runs with ``dag.test()``
against that sandbox, all in the clean venv with only Airflow and the wheel installed.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

import pytest
from packaging_support import DIST_NAME, REPO, CleanVenv, source_version

pytestmark = pytest.mark.packaging


def test_imports_come_from_the_installed_wheel(clean_venv: CleanVenv) -> None:
    out = clean_venv.run("python", "-c", f"import {DIST_NAME} as p; print(p.__file__, p.__version__)")
    path, installed_version = out.stdout.split()
    assert path.startswith(str(clean_venv.path / "lib")) and "site-packages" in path
    assert installed_version == source_version()
    dist = clean_venv.run("python", "-m", "pip", "show", "-f", "airflow-provider-oktopost").stdout
    assert "Editable project location" not in dist


def test_airflow_providers_list_shows_the_provider(clean_venv: CleanVenv) -> None:
    out = clean_venv.run("airflow", "providers", "list", "--output", "json")
    providers = {p["package_name"]: p for p in json.loads(out.stdout)}
    assert providers["airflow-provider-oktopost"]["version"] == source_version()


def test_connection_type_is_registered(clean_venv: CleanVenv) -> None:
    out = clean_venv.run(
        "python",
        "-c",
        "import json; from airflow.providers_manager import ProvidersManager as P; h = P().hooks['oktopost'];"
        " print(json.dumps([h.hook_class_name, h.connection_type, h.package_name]))",
    )
    assert json.loads(out.stdout.splitlines()[-1]) == [
        "airflow_provider_oktopost.hooks.oktopost.OktopostHook",
        "oktopost",
        "airflow-provider-oktopost",
    ]


def test_console_sandbox_serves_an_example_dag_run(clean_venv: CleanVenv) -> None:
    """``oktopost-sandbox`` starts; example_oktopost_onboarding runs against it with ``dag.test()``."""
    sandbox = subprocess.Popen(
        [str(clean_venv.bin / "oktopost-sandbox"), "--port", "0"],
        cwd=clean_venv.home,
        env=clean_venv.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = sandbox.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Oktopost sandbox listening on "):
                break
        assert lines and lines[-1].startswith("Oktopost sandbox listening on "), "".join(lines)
        export = next(line for line in lines if line.startswith("export AIRFLOW_CONN_OKTOPOST_DEFAULT="))
        conn_json = export.split("=", 1)[1].strip().strip("'")
        assert json.loads(conn_json)["host"] == lines[-1].split()[-1]

        dag_file = clean_venv.home / "dags" / "example_oktopost_onboarding.py"
        shutil.copy(REPO / "example_dags" / "example_oktopost_onboarding.py", dag_file)
        script = (
            "import importlib.util, json, sys\n"
            f"spec = importlib.util.spec_from_file_location('onboarding', {str(dag_file)!r})\n"
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
            "from airflow_provider_oktopost.testing.dagrun import run_dag, task_states\n"
            "run = run_dag(module.dag, run_conf={'cname_id': '0CN0000000000WH'})\n"
            "print('RESULT', json.dumps({'state': str(run.state), 'tasks': task_states(run)}))\n"
        )
        out = clean_venv.run("python", "-c", script, timeout=300, AIRFLOW_CONN_OKTOPOST_DEFAULT=conn_json)
        result = json.loads(next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))[7:])
        assert result["state"].endswith("success"), result
        assert set(result["tasks"].values()) == {"success"}, result
    finally:
        sandbox.send_signal(signal.SIGTERM)
        rest, _ = sandbox.communicate(timeout=30)
    assert sandbox.returncode == 0, rest
    assert "Oktopost sandbox stopped" in rest
