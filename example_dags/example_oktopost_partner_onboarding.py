"""Onboard many customers from one deployment, as an Oktopost partner: one mapped task group per customer.

For each customer (external id, company, owner, license, the host name of their custom domain, and the
Airflow connection that holds *that account's* key), mapped over the list in the run's params:

1. ``ensure_account``: the partner provisions the customer's Oktopost account, exactly once by external id
   (a second run, a retry or a Clear finds the one account), with the partner's connection
   (``oktopost_partner_default``);
2. ``check_connection``: the customer's own ``oktopost`` connection must exist and belong to that account,
   otherwise this customer's tasks fail here with an error that says what to create (the others go on);
3. ``register_cname``, ``connect``, ``wait_until_ready``: the onboarding chain, with the customer's
   connection, so each account spends its own call budget (60 calls a minute per account).

The owner's initial password comes from a secrets backend through a Variable
(``oktopost_initial_owner_password``), read by the operator's template: it never travels through XCom.
Oktopost does not hand out a new account's API key through the API: the first run tells you, for each new
account, which connection to create (its Account ID); Clear the failed customers once it exists.
See ``docs/partners.md`` for keeping hundreds of account connections in a secrets backend.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, get_current_context, task, task_group

from airflow_provider_oktopost.operators.cname import OktopostCreateCnameOperator
from airflow_provider_oktopost.operators.oktopost import OktopostConnectIntegrationOperator
from airflow_provider_oktopost.operators.partner import OktopostCreateAccountOperator
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor

#: The customers to onboard (a run's ``customers`` param replaces it). ``conn_id`` follows a naming
#: pattern, ``oktopost_<external id>``, so a secrets backend can hold hundreds of them.
CUSTOMERS: list[dict[str, str]] = [
    {
        "external_id": f"crm-{n:04d}",
        "company": company,
        "owner_first_name": first,
        "owner_last_name": last,
        "owner_email": f"{first.lower()}@{domain}",
        "license_id": "017_SUB_PARTNER_V7",
        "host_name": f"links.{domain}",
        "conn_id": f"oktopost_crm_{n:04d}",
    }
    for n, (company, first, last, domain) in enumerate(
        [
            ("Acme Inc", "Ada", "Lovelace", "acme.example"),
            ("Globex", "Grace", "Hopper", "globex.example"),
            ("Initech", "Alan", "Turing", "initech.example"),
            ("Umbrella", "Edsger", "Dijkstra", "umbrella.example"),
            ("Hooli", "Barbara", "Liskov", "hooli.example"),
        ],
        start=1,
    )
]


class _RegisterCname(OktopostCreateCnameOperator):
    """The CNAME operator with its connection rendered like a template field, so that each mapped
    customer's task can use that customer's connection (the connect operator and the sensor template
    ``oktopost_conn_id`` already)."""

    template_fields = tuple(dict.fromkeys((*OktopostCreateCnameOperator.template_fields, "oktopost_conn_id")))


with DAG(
    dag_id="example_oktopost_partner_onboarding",
    description="Provision customer accounts as a partner, then onboard each with its own connection",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"customers": Param(CUSTOMERS, type="array", description="The customers to onboard")},
    tags=["example", "oktopost", "partner"],
) as dag:

    @task
    def customers() -> list[dict[str, str]]:
        """The customers, from the run's params (mapping needs a task output, not a template)."""
        return [dict(c) for c in get_current_context()["params"]["customers"]]

    @task
    def check_connection(conn_id: str, account_id: str, external_id: str) -> str:
        """The customer's ``oktopost`` connection: it must exist and hold this account's Account ID."""
        from airflow.providers.common.compat.sdk import AirflowFailException, BaseHook

        try:
            conn = BaseHook.get_connection(conn_id)
        except Exception:  # Airflow's "conn_id isn't defined" (its class differs between versions)
            raise AirflowFailException(
                f"Customer {external_id}: no Airflow connection {conn_id!r}. Create it (type oktopost) with "
                f"Account ID {account_id} and that account's API key, e.g. in your secrets backend; then "
                "clear this customer's tasks. The other customers are not affected."
            ) from None
        if (conn.login or "").strip() != account_id:
            raise AirflowFailException(
                f"Customer {external_id}: connection {conn_id!r} holds Account ID {conn.login!r}, but the "
                f"customer's Oktopost account is {account_id}: fix the connection, then clear this customer"
            )
        return conn_id

    @task_group(group_id="onboard")
    def onboard(
        *,
        external_id: str,
        company: str,
        owner_first_name: str,
        owner_last_name: str,
        owner_email: str,
        license_id: str,
        host_name: str,
        conn_id: str,
    ) -> Any:
        account = OktopostCreateAccountOperator(
            task_id="ensure_account",
            external_id=external_id,
            company=company,
            owner_first_name=owner_first_name,
            owner_last_name=owner_last_name,
            owner_email=owner_email,
            owner_password="{{ var.value.oktopost_initial_owner_password }}",  # noqa: S106 - from a secrets backend
            license_id=license_id,
        )
        customer_conn = check_connection(conn_id, account.output, external_id)
        cname = _RegisterCname(
            task_id="register_cname", host_name=host_name, if_exists="reuse", oktopost_conn_id=customer_conn
        )
        connect = OktopostConnectIntegrationOperator(
            task_id="connect",
            integration_type="cd",
            cname_id=cname.output,
            if_exists="reuse",
            oktopost_conn_id=customer_conn,
        )
        return OktopostIntegrationSensor(
            task_id="wait_until_ready",
            integration_id=connect.output,
            oktopost_conn_id=customer_conn,
            deferrable=True,
            poke_interval=15,
            timeout=60 * 60,
        )

    onboard.expand_kwargs(customers())
