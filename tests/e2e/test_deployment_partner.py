"""The partner example on a real Airflow deployment: five customers, each with its own Oktopost account.

A deployment of its own (api-server, scheduler, dag-processor, triggerer; LocalExecutor, SQLite) and the
sandbox as a process of its own, as in ``test_deployment.py``, with the partner's connection
(``oktopost_partner_default``), one ``oktopost`` connection per customer (``oktopost_crm_000N``, each with
its own random key) and the owner's initial password as a Variable, all from the environment (Airflow's
environment-variables secrets backend). The sandbox is told beforehand which Id and key each customer's new
account gets (``plan_account``), as a partner would copy a new account's key into its secrets backend.

The customers' integrations are held invalid until every customer's sensor is deferred in the triggerer
(see ``test_deployment.py`` for why), then released. At the end, no log file, component output or the
metadata database holds the password or any key.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_deployment import Deployment, running
from e2e_rest import RunWatch
from secrets_scan import forbidden, scan_files, scan_tree
from support import load_example

from airflow_provider_oktopost.testing._accounts import DEFAULT_PARTNER_ID, DEFAULT_PARTNER_KEY
from airflow_provider_oktopost.testing.client import SandboxClient

pytestmark = pytest.mark.e2e

DAG_ID = "example_oktopost_partner_onboarding"
RUN_TIMEOUT = 240.0  # seconds for the run of five customers (normally 60-120 s)
PASSWORD = f"e2e-owner-{secrets.token_urlsafe(12)}"


def _customers() -> list[dict[str, str]]:
    return [dict(c) for c in load_example(DAG_ID).params["customers"]]


class PartnerDeployment(Deployment):
    """The standard deployment, plus the partner's and every customer's connection and the password."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, validation_delay=0.0)
        self.customers = _customers()
        #: Customer external id -> (account id, key): random keys, so that finding one anywhere is a leak.
        self.accounts = {
            c["external_id"]: (f"001e2ecust{n:05d}", f"e2e-cust-{secrets.token_urlsafe(12)}")
            for n, c in enumerate(self.customers, start=1)
        }

    def airflow_env(self) -> dict[str, str]:
        env = super().airflow_env()
        env["AIRFLOW_CONN_OKTOPOST_PARTNER_DEFAULT"] = json.dumps(
            {
                "conn_type": "oktopost_partner",
                "login": DEFAULT_PARTNER_ID,
                "password": DEFAULT_PARTNER_KEY,
                "host": self.sandbox_url,
            }
        )
        env["AIRFLOW_VAR_OKTOPOST_INITIAL_OWNER_PASSWORD"] = PASSWORD
        for customer in self.customers:
            account_id, key = self.accounts[customer["external_id"]]
            env[f"AIRFLOW_CONN_{customer['conn_id'].upper()}"] = json.dumps(
                {
                    "conn_type": "oktopost",
                    "login": account_id,
                    "password": key,
                    "host": f"{self.sandbox_url}/v2",
                }
            )
        return env


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PartnerDeployment]:
    with running(PartnerDeployment(tmp_path_factory.mktemp("e2e-partner"))) as deployed:
        yield deployed


def _all_deferred(count: int) -> Any:
    def done(watch: RunWatch) -> bool:
        if watch.state == "failed":
            return True
        tis = [watch.ti("onboard.wait_until_ready", i) for i in range(count)]
        return all(ti is not None and ti["state"] == "deferred" for ti in tis)

    return done


def test_five_customers_onboarded_each_with_its_own_account(
    deployment: PartnerDeployment, sandbox: SandboxClient
) -> None:
    customers = deployment.customers
    for external_id, (account_id, key) in deployment.accounts.items():
        sandbox.plan_account(external_id, account_id, key)
    sandbox.hold_validation()
    try:
        deployment.rest.unpause(DAG_ID)
        run_id = deployment.rest.trigger(DAG_ID, {})
        watch = RunWatch(DAG_ID, run_id)
        deployment.watch(watch, timeout=RUN_TIMEOUT, until=_all_deferred(len(customers)))
        assert watch.state != "failed", deployment.run_diagnosis(watch)
        assert len(sandbox.release_validation()) == len(customers)
        deployment.watch(watch, timeout=RUN_TIMEOUT)
    finally:
        sandbox.hold_validation(False)
        sandbox.release_validation()
    assert watch.state == "success", deployment.run_diagnosis(watch)
    assert {ti["state"] for ti in watch.last} == {"success"}, watch.summary()

    ids = {a["ExternalID"]: a["Id"] for a in sandbox.managed_accounts}
    assert ids == {eid: account for eid, (account, _) in deployment.accounts.items()}
    for n, customer in enumerate(customers):
        account_id = ids[customer["external_id"]]
        assert deployment.rest.xcom(DAG_ID, run_id, "onboard.ensure_account", n) == account_id
        (cname,) = [c for c in sandbox.cnames if c["Name"] == customer["host_name"]]
        assert cname["AccountId"] == account_id
        (integration,) = [i for i in sandbox.integrations if i["CnameId"] == cname["Id"]]
        assert (integration["AccountId"], integration["Status"], integration["State"]) == (
            account_id,
            "valid",
            "active",
        )
    # The partner's key called only the partner API, each customer's key only its own account.
    for entry in sandbox.requests:
        expected = DEFAULT_PARTNER_ID if entry.path.startswith("/account") else None
        assert entry.account == expected if expected else entry.account in ids.values(), entry

    # Neither the password nor any key is in a task or trigger log, a component's output or the database.
    needles = [
        PASSWORD.encode(),
        PASSWORD.encode("utf-16-le"),
        *forbidden(DEFAULT_PARTNER_ID, DEFAULT_PARTNER_KEY),
    ]
    for account_id, key in deployment.accounts.values():
        needles += forbidden(account_id, key)
    components = [p for p in deployment.logs.glob("*.log") if p.name != "sandbox.log"]
    scan = scan_tree(deployment.home, needles).merge(scan_files(components, needles))
    assert scan.found == {}
    assert "airflow.db" in scan.searched
    assert any("attempt=" in place for place in scan.searched)
    assert PASSWORD not in repr(sandbox.requests)
