"""Airflow discovers the provider, its metadata is valid, and its CLI paths work against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_oktopost.get_provider_info import get_provider_info
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.testing import OktopostSandbox


def test_valid_against_airflows_runtime_schema() -> None:
    from airflow.providers_manager import _create_provider_info_schema_validator

    _create_provider_info_schema_validator().validate(get_provider_info())


def test_connection_type_valid_against_the_strict_provider_yaml_schema() -> None:
    schema_file = Path(airflow.__file__).parent / "provider.yaml.schema.json"
    if not schema_file.exists():
        pytest.skip(f"Airflow {airflow.__version__} ships no provider.yaml.schema.json")
    schema = json.loads(schema_file.read_text())
    item_schema = schema["properties"]["connection-types"]["items"]
    for entry in get_provider_info()["connection-types"]:
        jsonschema.validate(entry, item_schema)


def test_package_name_is_the_distribution_name() -> None:
    from importlib.metadata import distribution

    info = get_provider_info()
    assert distribution(info["package-name"]).metadata["Name"] == "airflow-provider-oktopost"
    entry_points = distribution("airflow-provider-oktopost").entry_points
    (ep,) = [e for e in entry_points if e.group == "apache_airflow_provider"]
    assert ep.value == "airflow_provider_oktopost.get_provider_info:get_provider_info"


def test_listed_modules_and_hook_exist() -> None:
    import importlib

    info = get_provider_info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    conn = info["connection-types"][0]
    assert (
        conn["hook-class-name"].endswith(".OktopostHook")
        and conn["connection-type"] == OktopostHook.conn_type
    )


def test_declarative_and_legacy_forms_agree() -> None:
    conn = get_provider_info()["connection-types"][0]
    legacy = OktopostHook.get_ui_field_behaviour()
    assert legacy["hidden_fields"] == conn["ui-field-behaviour"]["hidden-fields"] == ["schema", "port"]
    assert legacy["relabeling"] == {
        "login": "Account ID",
        "password": "API Key",
        "host": "Base URL (optional)",
    }
    assert conn["conn-fields"]["region"]["schema"]["enum"] == ["us", "eu"]
    assert conn["conn-fields"]["region"]["schema"]["default"] == "us"


def test_legacy_form_widgets_build() -> None:
    """Airflow 3.0/3.1 build the extra fields from the hook (wtforms, imported lazily inside the method)."""
    from wtforms import Form

    widgets = OktopostHook.get_connection_form_widgets()
    assert set(widgets) == {"region", "timeout"}
    form_class = type("OktopostForm", (Form,), dict(widgets))
    form = form_class()
    assert form.region.data == "us"
    from werkzeug.datastructures import MultiDict

    assert form_class(formdata=MultiDict({"region": "eu"})).validate()
    assert form_class(formdata=MultiDict({"region": ""})).validate()
    bad = form_class(formdata=MultiDict({"region": "apac"}))
    assert not bad.validate()
    assert "region" in bad.errors


def test_providers_manager_registers_the_connection_type() -> None:
    """Airflow (every supported version) accepts the hook for the ``oktopost`` connection type.

    Airflow 3.0/3.1 drop a hook whose form widgets use an unsupported field class; this catches that.
    """
    try:  # Airflow 3.3+: the runtime registry lives in the task SDK
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime as Manager
    except ImportError:
        from airflow.providers_manager import ProvidersManager as Manager  # type: ignore[assignment]

    hook_info = Manager().hooks.get("oktopost")
    assert hook_info is not None
    assert hook_info.hook_class_name == "airflow_provider_oktopost.hooks.oktopost.OktopostHook"
    assert hook_info.connection_id_attribute_name == "oktopost_conn_id"


def test_get_provider_info_module_imports_nothing_heavy() -> None:
    code = (
        "import sys; import airflow_provider_oktopost.get_provider_info; "
        "heavy = [m for m in ('airflow', 'requests', 'httpx', 'pendulum') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _airflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=180,
        check=False,
    )


@pytest.mark.airflow
def test_airflow_providers_list_shows_it(airflow_db: Path) -> None:
    result = _airflow("providers", "list", "--output", "json")
    assert result.returncode == 0, result.stderr
    payload = next(line for line in result.stdout.splitlines() if line.startswith("[{"))
    names = {p["package_name"] for p in json.loads(payload)}
    assert "airflow-provider-oktopost" in names


@pytest.mark.airflow
def test_airflow_connections_test_against_the_sandbox(
    airflow_db: Path, oktopost_sandbox: OktopostSandbox
) -> None:
    good = _airflow(
        "connections",
        "test",
        "oktopost_default",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW_CONN_OKTOPOST_DEFAULT=oktopost_sandbox.connection_json(),
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Connection success" in good.stdout
    assert oktopost_sandbox.count(method="GET", path_regex="/v2/me") == 1

    wrong = json.loads(oktopost_sandbox.connection_json()) | {"password": "not-the-KEY-7781"}
    bad = _airflow(
        "connections",
        "test",
        "oktopost_default",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW_CONN_OKTOPOST_DEFAULT=json.dumps(wrong),
    )
    output = bad.stdout + bad.stderr
    assert bad.returncode != 0 or "failed" in output.lower()
    assert "401" in output
    assert "not-the-KEY-7781" not in output


@pytest.mark.airflow
def test_uri_form_with_region(airflow_db: Path) -> None:
    code = (
        "from airflow_provider_oktopost.hooks.oktopost import OktopostHook as H; c = H().config; "
        "print('RESULT', c.base_url, c.account_id)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AIRFLOW_CONN_OKTOPOST_DEFAULT": "oktopost://001abc:k%2Fey@?region=eu"},
    )
    (line,) = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert line.split()[1:] == ["https://eu-api.oktopost.com/v2", "001abc"]
