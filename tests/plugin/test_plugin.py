"""Issue 21: the provider's plugin loads on every Airflow 3.x and is harmless where it cannot show a page.

- ``airflow plugins`` lists it, as the provider's plugin (with ``[core] lazy_discover_providers = False``,
  the only setting under which Airflow loads the plugins a provider lists) or from a one-line file in the
  plugins folder: the FastAPI app at ``/oktopost`` everywhere, the *Browse > Oktopost* entry from 3.1;
- importing it does not import FastAPI (Airflow imports plugins in every task process);
- in a real api-server, the JSON API refuses a request without a login and answers an admin's token (in
  depth, with the page in a browser: tests/browser/test_oktopost_page.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from browser.oktopost_page_support import secured_api_server

pytestmark = pytest.mark.airflow

AIRFLOW = tuple(int(p) for p in version("apache-airflow").split(".")[:2])


@pytest.mark.parametrize("how", ["provider", "plugins_folder"])
def test_airflow_lists_the_plugin(airflow_db: Path, tmp_path: Path, how: str) -> None:
    if how == "provider":  # the plugin the provider lists: Airflow loads it without lazy discovery only
        env = {**os.environ, "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": "False"}
    else:  # one line in the plugins folder, with Airflow's defaults
        (tmp_path / "oktopost_page.py").write_text(
            "from airflow_provider_oktopost.plugins.oktopost import OktopostPlugin  # noqa: F401\n"
        )
        env = {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(tmp_path)}
        env.pop("AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS", None)
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "plugins", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [line] = [line for line in result.stdout.splitlines() if line.startswith('[{"')]  # after 3.0's log lines
    listed = json.loads(line)
    [plugin] = [p for p in listed if p["name"] == "oktopost"]
    assert plugin["fastapi_apps"] == [
        {"app": "fastapi.applications.FastAPI", "url_prefix": "/oktopost", "name": "Oktopost"}
    ]
    if AIRFLOW >= (3, 1):
        [view] = plugin["external_views"]
        assert (view["name"], view["url_route"], view["category"]) == ("Oktopost", "oktopost", "browse")


def test_importing_the_plugin_does_not_import_fastapi() -> None:
    code = (
        "import sys; import airflow_provider_oktopost.plugins.oktopost; "
        "print([m for m in ('fastapi', 'starlette') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.skipif(
    AIRFLOW < (3, 1),
    reason="Airflow 3.0.0's own api-server does not start with the FastAPI of the lowest-deps venv "
    "(AirflowRouter.api_route() got an unexpected keyword argument 'max_body_size'), plugin or not",
)
def test_the_json_api_needs_a_login_on_this_airflow(airflow_db: Path, tmp_path: Path) -> None:
    with secured_api_server(tmp_path, tmp_path / "budget") as server:
        status, text = server.request("GET", "/oktopost/api/accounts")
        assert status in (401, 403), (status, text[:300])
        status, text = server.request("GET", "/oktopost/api/accounts", token=server.token("admin"))
        assert status == 200, (status, text[:300], server.log_tail())
        assert json.loads(text)["accounts"] == []
