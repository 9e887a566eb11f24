"""The DAG-parse path stays light: importing and building the operators and the sensor loads no client.

Every DAG file that uses the provider pays for its imports on every parse (``bench/parse_cost.py`` measures
the cost against the http provider's ``HttpOperator``). Defining and constructing an operator needs only
the operator classes, their argument checks (``_core.validation``) and Airflow's own classes; the hook, the
transport core, the models, the budget stores and the HTTP clients are imported where the work happens
(``execute``, the ``hook`` property). Each case runs in a fresh interpreter and compares the modules loaded
with those Airflow's own part loads (``import airflow.sdk``, the classes every operator is built on, an
empty DAG), so a module-level import that drags the client back in fails here with the module's name.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.hooks.partner import OktopostPartnerHook
from airflow_provider_oktopost.operators._base import DEFAULT_CONN_ID
from airflow_provider_oktopost.operators.partner import DEFAULT_PARTNER_CONN_ID

#: Provider modules a DAG file that imports and builds operators and the sensor may load.
ALLOWED = {
    "airflow_provider_oktopost",
    "airflow_provider_oktopost._core",
    "airflow_provider_oktopost._core.validation",
    "airflow_provider_oktopost.operators",
    "airflow_provider_oktopost.operators._base",
    "airflow_provider_oktopost.operators.oktopost",
    "airflow_provider_oktopost.operators.cname",
    "airflow_provider_oktopost.operators.action",
    "airflow_provider_oktopost.sensors",
    "airflow_provider_oktopost.sensors.oktopost",
}
#: The partner operator checks its arguments with the partner API's own validators (plain functions and
#: value classes, no client): those modules are allowed for it, nothing more.
ALLOWED_PARTNER = ALLOWED | {
    "airflow_provider_oktopost.operators.partner",
    "airflow_provider_oktopost._core.partner_wire",
    "airflow_provider_oktopost._core.wire",
    "airflow_provider_oktopost._core.timestamps",
    "airflow_provider_oktopost.partner_models",
}

_OKTOPOST_DAG = """
from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator, OktopostDeleteIntegrationOperator,
    OktopostListIntegrationsOperator, OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.operators.cname import (
    OktopostCreateCnameOperator, OktopostDeleteCnameOperator,
)
from airflow_provider_oktopost.operators.action import OktopostRunIntegrationActionOperator
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor

with DAG("parse_cost", schedule=None):
    connect = OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="cd", cname_id="0CN1", settings={"trackingId": "T-1"},
        hook_params={"timeout": 5},
    )
    OktopostUpdateIntegrationOperator(task_id="update", integration_id=connect.output, state="active")
    OktopostDeleteIntegrationOperator(task_id="delete", integration_id="0IN1")
    OktopostListIntegrationsOperator(task_id="list", integration_type="cd", status="valid")
    OktopostCreateCnameOperator(task_id="cname", host_name="links.example.com")
    OktopostDeleteCnameOperator(task_id="cname_delete", cname_id="0CN1")
    OktopostRunIntegrationActionOperator(
        task_id="action", integration_id="0IN1", action_name="contact.getByEmail",
        payload={"email": "a@example.com"},
    )
    OktopostIntegrationSensor(task_id="wait", integration_id=connect.output, max_failing_time=60)
    try:
        OktopostConnectIntegrationOperator(task_id="bad", integration_type="c d", cname_id="0CN1")
    except ValueError as error:
        assert "integration_type" in str(error), error
    else:
        raise AssertionError("a bad literal argument did not fail at construction")
"""

_PARTNER_DAG = """
from airflow_provider_oktopost.operators.partner import OktopostCreateAccountOperator

with DAG("parse_cost_partner", schedule=None):
    OktopostCreateAccountOperator(
        task_id="account", external_id="crm-1", company="Example", owner_first_name="Ada",
        owner_last_name="Lovelace", owner_email="ada@example.com", owner_password="{{ var.value.pw }}",
        license_id="L1",
    )
"""

_RUNNER = """
import json, sys
import airflow.sdk
from airflow.sdk import DAG
# What any DAG file with operators pays for Airflow's own part: the classes every operator is built on
# (through the compat shims, which on Airflow 3.0 load much of Airflow) and building a DAG (croniter...).
from airflow.providers.common.compat.sdk import (
    AirflowException, AirflowFailException, AirflowSensorTimeout, AirflowSkipException, BaseOperator,
    BaseSensorOperator, PokeReturnValue, conf,
)
with DAG("baseline", schedule=None):
    BaseOperator(task_id="baseline")
before = set(sys.modules)
{dag}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _loaded_by(dag: str, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The modules a fresh interpreter loads for ``dag`` beyond Airflow's own part (see ``_RUNNER``)."""
    home = tmp_path_factory.mktemp("parse-home")
    env = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin"}
    code = _RUNNER.format(dag=textwrap.dedent(dag))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return set(loaded)


def _leaks(loaded: set[str], allowed: set[str]) -> list[str]:
    """Modules that should not be on the parse path: provider modules not allowed, anything not Airflow's.

    Airflow's own modules may appear (the compat shims and ``BaseSensorOperator`` load lazily); any other
    package newly loaded (``requests``, ``httpx``, ``redis``...) is the client leaking in.
    """
    return sorted(
        name
        for name in loaded
        if name not in allowed and not (name == "airflow" or name.startswith("airflow."))
    )


def test_importing_and_building_operators_and_sensor_loads_no_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    leaks = _leaks(_loaded_by(_OKTOPOST_DAG, tmp_path_factory), ALLOWED)
    assert not leaks, (
        "Importing and building the operators and the sensor (a DAG parse) loaded modules that belong to "
        f"the work, not the definition: {leaks}. Import them where the work happens (execute, the hook "
        "property) or under TYPE_CHECKING"
    )


def test_the_partner_operator_loads_no_client_either(tmp_path_factory: pytest.TempPathFactory) -> None:
    leaks = _leaks(_loaded_by(_PARTNER_DAG, tmp_path_factory), ALLOWED_PARTNER)
    assert not leaks, f"Building the partner operator loaded {leaks} (see the module docstring)"


def test_the_leak_check_names_a_leaked_module(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The check can fail: a DAG file that imports the hook is reported, by module name."""
    loaded = _loaded_by("import airflow_provider_oktopost.hooks.oktopost\n" + _OKTOPOST_DAG, tmp_path_factory)
    leaks = _leaks(loaded, ALLOWED)
    assert "airflow_provider_oktopost.hooks.oktopost" in leaks
    assert "airflow_provider_oktopost._core.operations" in leaks


def test_the_default_connection_ids_are_the_hooks() -> None:
    """The operators name the hooks' default connections without importing the hooks."""
    assert OktopostHook.default_conn_name == DEFAULT_CONN_ID
    assert OktopostPartnerHook.default_conn_name == DEFAULT_PARTNER_CONN_ID
