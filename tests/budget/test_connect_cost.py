"""What a connect costs on a large account: the shared listing instead of a listing per task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
)
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.budget import reset_budgets

LIST = r"/v2/integration"


class _TI:
    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def _ctx(try_number: int = 1) -> Any:
    return {"ti": _TI(try_number)}


@pytest.fixture
def account(
    oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> OktopostSandbox:
    """An account that already has 250 integrations of type ``cd`` (three listing pages)."""
    oktopost_sandbox.configure(rate_limit_per_minute=None)
    for n in range(250):
        oktopost_sandbox.add_integration(type="cd", cname_id=f"0CNold{n:09d}")
    conn = oktopost_sandbox.connection_dict()
    conn["extra"] = {"rate_limit_per_minute": 100_000, "budget_dir": str(tmp_path)}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    reset_budgets()
    return oktopost_sandbox


def _connect(cname: str, try_number: int = 1, **kwargs: Any) -> str:
    op = OktopostConnectIntegrationOperator(task_id="c", integration_type="cd", cname_id=cname, **kwargs)
    return str(op.execute(_ctx(try_number)))


def test_connects_share_one_listing(account: OktopostSandbox) -> None:
    cnames = [f"0CNnew{n:09d}" for n in range(10)]
    for cname in cnames:
        _connect(cname)
    assert account.count("GET", LIST) == 3  # one listing (3 pages) for all ten
    assert account.count("POST", LIST) == 10
    assert account.count() / len(cnames) <= 3  # 2.3 calls per onboarded integration
    assert sorted(i["CnameId"] for i in account.integrations if i["CnameId"].startswith("0CNnew")) == cnames


def test_a_connect_sees_what_another_connect_made(account: OktopostSandbox) -> None:
    first = _connect("0CNnew000000001")
    with pytest.raises(Exception, match=first):  # if_exists="fail": the shared listing has it
        _connect("0CNnew000000001")
    assert _connect("0CNnew000000001", if_exists="reuse") == first
    assert account.count("POST", LIST) == 1


def test_a_retry_lists_the_server_not_the_shared_listing(account: OktopostSandbox) -> None:
    _connect("0CNnew000000001")
    listed = account.count("GET", LIST)
    # Something connected this CNAME since the shared listing was taken (another tool, or a try that died
    # before it could tell anyone): the integration exists, the shared listing does not show it.
    left = account.add_integration(type="cd", cname_id="0CNnew000000002")
    assert _connect("0CNnew000000002", try_number=2, if_exists="reuse") == left["Id"]  # seen, not doubled
    assert account.count("GET", LIST) == listed + 3
    assert account.count("POST", LIST) == 1


def test_a_delete_drops_the_shared_listing(account: OktopostSandbox) -> None:
    first = _connect("0CNnew000000001")
    OktopostDeleteIntegrationOperator(task_id="d", integration_id=first).execute(_ctx())
    second = _connect("0CNnew000000001")  # if_exists="fail" would fail on a stale listing
    assert second != first
    assert [i["Id"] for i in account.integrations if i["CnameId"] == "0CNnew000000001"] == [second]
