"""Issue 10: what users of Airflow providers expect: secret-looking settings stay out of XCom, per-task
``hook_params`` reach the hook in the worker and the client in the triggerer, ``oktopost_conn_id`` is
templated everywhere."""

from __future__ import annotations

import time
from typing import Any

import pytest
from operator_support import CNAME, LIST, ctx

from airflow_provider_oktopost.exceptions import OktopostTransportError
from airflow_provider_oktopost.models import mask_secret_values
from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
    OktopostListIntegrationsOperator,
    OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

SETTINGS = {
    "trackingId": "UA-7",
    "apiPassword": "crm-hunter2",
    "crmAccessToken": "tok-123",
}


def test_secret_looking_settings_are_masked_in_xcom_but_sent(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    sandbox = oktopost_connection_env
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="pardot", cname_id=CNAME, settings=SETTINGS
    )
    context = ctx()
    integration_id = op.execute(context)
    pushed = context["ti"].xcoms["integration"]["settings"]
    assert pushed["trackingId"] == "UA-7" and pushed["apiPassword"] == "***"
    assert pushed["crmAccessToken"] == "***"
    assert mask_secret_values({"crm": {"scope": "r", "token": "t"}}) == {
        "crm": {"scope": "r", "token": "***"}
    }
    assert "crm-hunter2" not in str(context["ti"].xcoms) and "tok-123" not in str(context["ti"].xcoms)
    stored = sandbox.get(integration_id)["SettingsData"]
    assert "crm-hunter2" in str(stored)  # Oktopost got the real values
    listed = OktopostListIntegrationsOperator(task_id="l").execute(ctx())
    assert "crm-hunter2" not in str(listed) and listed[0]["settings"]["apiPassword"] == "***"


def test_hook_params_reach_the_hook_in_the_worker(oktopost_connection_env: OktopostSandbox) -> None:
    oktopost_connection_env.inject(Fault(kind="delay", delay_seconds=1.5, method="GET", path=LIST))
    op = OktopostListIntegrationsOperator(task_id="l", hook_params={"timeout": 0.3, "max_retries": 0})
    with pytest.raises(OktopostTransportError, match=r"no response within 0\.3s"):
        op.execute(ctx())
    time.sleep(2)  # the sandbox logs the held request when it is done with it
    assert oktopost_connection_env.count("GET", LIST) == 1  # max_retries=0: not retried


async def test_hook_params_reach_the_client_in_the_triggerer(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    record = oktopost_connection_env.add_integration()
    reads = r"/v2/integration.*"  # a read of the one integration, or a listing
    oktopost_connection_env.inject(Fault(kind="delay", delay_seconds=1.5, method="GET", path=reads, times=3))
    sensor = OktopostIntegrationSensor(
        task_id="w",
        integration_id=record["Id"],
        deferrable=True,
        poke_interval=0.5,
        max_failing_time=0.01,
        hook_params={"timeout": 0.3, "max_retries": 0},
    )
    trigger = OktopostIntegrationTrigger(
        record["Id"],
        poll_interval=sensor.poke_interval,
        end_time=time.time() + 30,
        max_failing_time=sensor.max_failing_time,
        hook_params=sensor.hook_params,
    )
    [event] = [e.payload async for e in trigger.run()]
    assert event["status"] == "failed" and "no response within 0.3s" in event["message"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: OktopostConnectIntegrationOperator(task_id="t", integration_type="cd", cname_id=CNAME),
        lambda: OktopostUpdateIntegrationOperator(
            task_id="t", integration_id="014abcdefghijkl", state="active"
        ),
        lambda: OktopostDeleteIntegrationOperator(task_id="t", integration_id="014abcdefghijkl"),
        lambda: OktopostListIntegrationsOperator(task_id="t"),
        lambda: OktopostIntegrationSensor(task_id="t", integration_id="014abcdefghijkl"),
    ],
)
def test_oktopost_conn_id_is_templated(make: Any) -> None:
    task = make()
    task.oktopost_conn_id = "oktopost_{{ params.env }}"
    assert "oktopost_conn_id" in task.template_fields
    task.render_template_fields({"params": {"env": "eu"}})
    assert task.oktopost_conn_id == "oktopost_eu"
    assert task.hook.oktopost_conn_id == "oktopost_eu"
