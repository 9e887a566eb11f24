"""Operator arguments are checked when the DAG file is parsed (literals) or after rendering, before any
request (templates); and the operator modules stay light to import on every parse."""

from __future__ import annotations

import re
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG
from operator_support import CNAME, ctx

from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
    OktopostListIntegrationsOperator,
    OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.testing import OktopostSandbox

# ---- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "argument"),
    [
        (
            lambda: OktopostConnectIntegrationOperator(task_id="t", integration_type="c d", cname_id=CNAME),
            "integration_type",
        ),
        (
            lambda: OktopostConnectIntegrationOperator(task_id="t", integration_type="cd", cname_id="../me"),
            "cname_id",
        ),
        (
            lambda: OktopostConnectIntegrationOperator(
                task_id="t", integration_type="cd", cname_id=CNAME, settings=[1]
            ),
            "settings",
        ),
        (
            lambda: OktopostConnectIntegrationOperator(
                task_id="t", integration_type="cd", cname_id=CNAME, settings={"state": "active"}
            ),
            "settings",
        ),
        (
            lambda: OktopostConnectIntegrationOperator(
                task_id="t", integration_type="cd", cname_id=CNAME, if_exists="replace"
            ),
            "if_exists",
        ),
        (
            lambda: OktopostUpdateIntegrationOperator(task_id="t", integration_id="", state="active"),
            "integration_id",
        ),
        (
            lambda: OktopostUpdateIntegrationOperator(task_id="t", integration_id="014a", state="paused"),
            "state",
        ),
        (
            lambda: OktopostUpdateIntegrationOperator(task_id="t", integration_id="014a", cname_id="a/b"),
            "cname_id",
        ),
        (
            lambda: OktopostUpdateIntegrationOperator(task_id="t", integration_id="014a"),
            "state, cname_id or settings",
        ),
        (
            lambda: OktopostUpdateIntegrationOperator(task_id="t", integration_id="014a", settings={}),
            "cname_id or settings",
        ),
        (lambda: OktopostDeleteIntegrationOperator(task_id="t", integration_id="a b"), "integration_id"),
        (lambda: OktopostListIntegrationsOperator(task_id="t", integration_type="c/d"), "integration_type"),
        (lambda: OktopostListIntegrationsOperator(task_id="t", status="ok"), "status"),
        (lambda: OktopostListIntegrationsOperator(task_id="t", state="on"), "state"),
    ],
)
def test_literal_arguments_are_checked_at_parse_time(
    factory: Any, argument: str, oktopost_connection_env: OktopostSandbox
) -> None:
    with pytest.raises(ValueError, match=re.escape(argument)):
        factory()
    assert oktopost_connection_env.count() == 0


def test_templated_arguments_are_not_checked_at_parse_time(oktopost_connection_env: OktopostSandbox) -> None:
    with DAG("oktopost_operators_parse_only", schedule=None):
        connect = OktopostConnectIntegrationOperator(
            task_id="connect",
            integration_type="{{ params.type }}",
            cname_id="{% if true %}0CN{% endif %}",
            settings={"x": "{{ ds }}"},
        )
        OktopostUpdateIntegrationOperator(
            task_id="update", integration_id=connect.output, state="{{ params.s }}"
        )
        OktopostDeleteIntegrationOperator(task_id="delete", integration_id=connect.output)
        OktopostDeleteIntegrationOperator.partial(task_id="mapped").expand(integration_id=connect.output)
        OktopostListIntegrationsOperator(task_id="list", status="{{ params.status }}")
    assert oktopost_connection_env.count() == 0


@pytest.mark.parametrize(
    ("op", "rendered", "argument"),
    [
        (
            OktopostDeleteIntegrationOperator(task_id="t", integration_id="{{ value }}"),
            "../../me",
            "integration_id",
        ),
        (
            OktopostUpdateIntegrationOperator(task_id="t", integration_id="014abc", state="{{ value }}"),
            "paused",
            "state",
        ),
        (
            OktopostConnectIntegrationOperator(
                task_id="t", integration_type="cd", cname_id=CNAME, settings="{{ value }}"
            ),
            "not json",
            "settings",
        ),
        (
            OktopostListIntegrationsOperator(task_id="t", integration_type="{{ value }}"),
            "a b",
            "integration_type",
        ),
    ],
)
def test_templated_arguments_are_checked_after_rendering_before_any_request(
    op: Any, rendered: str, argument: str, oktopost_connection_env: OktopostSandbox
) -> None:
    op.render_template_fields({"value": rendered})
    with pytest.raises(AirflowFailException, match=re.escape(argument)):
        op.execute(ctx())
    assert oktopost_connection_env.count() == 0


def test_modules_stay_light_to_import() -> None:
    """DAG files import these on every parse: no requests, no trigger machinery, no network."""
    import subprocess
    import sys

    code = (
        "import sys; import airflow_provider_oktopost.operators.oktopost; "
        "import airflow_provider_oktopost.sensors.oktopost; "
        "print(sorted(m for m in ('requests', 'airflow_provider_oktopost.triggers.oktopost', "
        "'airflow_provider_oktopost._core.transports') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
