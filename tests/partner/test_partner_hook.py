"""``OktopostPartnerHook`` against the sandbox: listing, get, find by external id, exactly-once create."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from partner_support import PASSWORD, customer

from airflow_provider_oktopost._core import partner_ops
from airflow_provider_oktopost._core.budget.registry import budget_for
from airflow_provider_oktopost._core.driver import run_sync
from airflow_provider_oktopost._core.partner_config import PARTNER_URL, partner_config_from_fields
from airflow_provider_oktopost._core.wire import ApiRequest
from airflow_provider_oktopost.exceptions import (
    OktopostApiError,
    OktopostAuthError,
    OktopostConfigError,
    OktopostError,
    OktopostTransportError,
)
from airflow_provider_oktopost.hooks.partner import OktopostPartnerHook
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.accounts import DEFAULT_PARTNER_ID


def test_config_defaults_to_the_reseller_host_without_v2() -> None:
    config = partner_config_from_fields("p", login="001p", password="k", host=None, extra=None)
    assert config.base_url == PARTNER_URL == "https://reseller.oktopost.com"
    override = partner_config_from_fields(
        "p", login="001p", password="k", host="http://127.0.0.1:8080", extra={"timeout": 5, "max_retries": 1}
    )
    assert override.base_url == "http://127.0.0.1:8080" and override.timeout == 5
    assert override.retry.max_retries == 1
    with_path = partner_config_from_fields(
        "p", login="001p", password="k", host="https://x.example/api", extra={}
    )
    assert with_path.base_url == "https://x.example/api"
    proxied = partner_config_from_fields(
        "p", login="001p", password="k", host=None, extra={"proxy": "http://u:s3cret@proxy.example:3128"}
    )
    assert "s3cret" in proxied.secrets
    with pytest.raises(OktopostConfigError, match="no API key"):
        partner_config_from_fields("p", login="001p", password=None, host=None, extra={})


def test_partner_budget_is_its_own() -> None:
    """Budgets are keyed by Base URL and Account ID: the partner's is not any customer account's."""
    partner = partner_config_from_fields("p", login="001same", password="k", host=None, extra={})
    budget = budget_for(partner.base_url, partner.account_id, partner.rate_limit_per_minute, partner.budget)
    customer_budget = budget_for(
        "https://api.oktopost.com/v2", "001same", partner.rate_limit_per_minute, partner.budget
    )
    assert budget.key != customer_budget.key


def test_list_all_pages_query_get_and_find(partner_env: OktopostSandbox) -> None:
    sandbox = partner_env
    for n in range(130):
        sandbox.add_managed_account(DEFAULT_PARTNER_ID, f"Company {n:03d}", external_id=f"crm-{n:03d}")
    hook = OktopostPartnerHook()
    accounts = list(hook.iter_accounts())
    assert len(accounts) == 130 and len({a.id for a in accounts}) == 130
    assert sandbox.count("GET", "/account") == 2  # 100 a page
    assert [a.external_id for a in hook.iter_accounts(query="Company 007")] == ["crm-007"]
    page = hook.list_accounts(page=1, count=25)
    assert page.total == 130 and len(page.items) == 25 and page.items[0].name == "Company 025"
    one = hook.get_account(accounts[5].id)
    assert one.external_id == "crm-005" and one.total_users == 1 and one.active_users == 1
    assert one.to_dict()["external_id"] == "crm-005"
    found = hook.find_account_by_external_id("crm-129")
    assert found is not None and found.name == "Company 129"
    assert hook.find_account_by_external_id("crm-999") is None
    ok, message = hook.test_connection()
    assert ok and "130 managed account(s)" in message


def test_create_and_ensure(partner_env: OktopostSandbox) -> None:
    hook = OktopostPartnerHook()
    created = hook.create_account(customer("crm-1"))
    assert created.external_id == "crm-1" and created.name == "Acme Inc"
    again, made = hook.ensure_account(customer("crm-1"))
    assert (again.id, made) == (created.id, False)
    assert partner_env.count("POST", "/account") == 1
    assert len(partner_env.managed_accounts) == 1


def test_create_answer_with_an_account_key(partner_env: OktopostSandbox) -> None:
    partner_env.set_create_answer("account")
    account, made = OktopostPartnerHook().ensure_account(customer("crm-1"))
    assert made and account.external_id == "crm-1"


def test_create_answer_without_a_record_reads_it_back(partner_env: OktopostSandbox) -> None:
    partner_env.inject(Fault("status", method="POST", path="/account", status=200, body='{"Result": true}'))
    # The synthetic answer never reached the API: nothing was made, so the read-back finds nothing.
    with pytest.raises(OktopostApiError, match="without the new account"):
        OktopostPartnerHook().ensure_account(customer("crm-1"))


def test_lost_create_answer_after_the_account_was_made(partner_fast: OktopostSandbox) -> None:
    sandbox = partner_fast
    sandbox.inject(Fault("lost_response", method="POST", path="/account"))
    account, made = OktopostPartnerHook().ensure_account(customer("crm-1"))
    assert made and account.external_id == "crm-1"
    assert len(sandbox.managed_accounts) == 1
    assert sandbox.count("POST", "/account") == 1  # found by its external id, never sent again


def test_lost_create_without_external_id_is_not_sent_again(partner_fast: OktopostSandbox) -> None:
    sandbox = partner_fast
    sandbox.inject(Fault("lost_response", method="POST", path="/account"))
    with pytest.raises(OktopostTransportError, match="cannot be looked for"):
        OktopostPartnerHook().create_account(customer(None))
    assert sandbox.count("POST", "/account") == 1 and len(sandbox.managed_accounts) == 1


def test_refused_on_taken_external_id_ends_with_the_existing_account(partner_env: OktopostSandbox) -> None:
    """Another run creates the account between our look and our create: the refusal ends with it."""
    sandbox = partner_env
    hook = OktopostPartnerHook()
    transport = hook._get_transport()
    made: dict[str, Any] = {}

    def send(request: ApiRequest) -> Any:
        if request.method == "POST" and not made:
            made.update(sandbox.add_managed_account(DEFAULT_PARTNER_ID, "Acme Inc", external_id="crm-1"))
        return transport(request)

    op = partner_ops.ensure_account(hook._context, customer("crm-1"))
    account, created = run_sync(op, send, hook.config.secrets)
    assert (account.id, created) == (made["Id"], False)
    assert len(sandbox.managed_accounts) == 1


def test_missing_field_is_refused_before_any_request(partner_env: OktopostSandbox) -> None:
    hook = OktopostPartnerHook()
    for name, value in [("company", ""), ("owner_email", "not-an-email"), ("license_id", " ")]:
        with pytest.raises(ValueError, match=name):
            hook.ensure_account(customer("crm-1", **{name: value}))
    with pytest.raises(ValueError, match="owner_password is required") as caught:
        hook.ensure_account(customer("crm-1", owner_password=""))
    with pytest.raises(ValueError, match="external_id is required"):
        hook.ensure_account(customer(None))
    assert PASSWORD not in str(caught.value)
    assert partner_env.count() == 0


def test_server_refusal_names_the_field(partner_env: OktopostSandbox) -> None:
    """The sandbox's own rule, through the hook: what a partner sees if Oktopost refuses a field."""
    partner_env.inject(
        Fault(
            "status",
            method="POST",
            path="/account",
            status=400,
            body=json.dumps(
                {"Result": False, "Errors": {"Param": {"post": "Missing value for parameter email"}}}
            ),
        )
    )
    with pytest.raises(OktopostApiError, match="Missing value for parameter email") as caught:
        OktopostPartnerHook().ensure_account(customer("crm-1"))
    assert "POST /account failed: HTTP 400" in str(caught.value)


def test_password_never_in_errors_logs_or_repr(
    partner_fast: OktopostSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = partner_fast
    # A server that echoes the password back in its error: the driver scrubs it.
    sandbox.inject(
        Fault(
            "status",
            method="POST",
            path="/account",
            status=400,
            body=json.dumps({"Result": False, "Errors": [f"Password {PASSWORD} is too weak"]}),
        )
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(OktopostApiError) as caught:
        OktopostPartnerHook().ensure_account(customer("crm-1"))
    assert PASSWORD not in str(caught.value) and "***" in str(caught.value)
    sandbox.inject(Fault("lost_response", method="POST", path="/account"))
    OktopostPartnerHook().ensure_account(customer("crm-1"))
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(customer("crm-1"))
    assert PASSWORD not in repr(sandbox.requests)


def test_wrong_key_fails_with_auth_error(
    partner_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKTOPOST_PARTNER_DEFAULT",
        json.dumps(
            {
                "conn_type": "oktopost_partner",
                "login": DEFAULT_PARTNER_ID,
                "password": "wrong",
                "host": partner_env.url,
            }
        ),
    )
    with pytest.raises(OktopostAuthError):
        OktopostPartnerHook().list_accounts()
    ok, message = OktopostPartnerHook().test_connection()
    assert not ok and "401" in message and "wrong" not in message


def test_a_customer_key_is_not_a_partner_key(
    partner_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKTOPOST_PARTNER_DEFAULT",
        json.dumps(
            {
                "conn_type": "oktopost_partner",
                "login": partner_env.account_id,
                "password": partner_env.api_key,
                "host": partner_env.url,
            }
        ),
    )
    with pytest.raises(OktopostAuthError, match="403"):
        OktopostPartnerHook().list_accounts()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chaos_never_makes_a_second_account(partner_fast: OktopostSandbox, seed: int) -> None:
    """Under chaos (5xx, drops, lost answers, short 429s on 40% of calls), retried like task retries,
    every customer ends with exactly one account."""
    sandbox = partner_fast
    sandbox.set_chaos(0.4, seed=seed)
    ids: dict[str, str] = {}
    for n in range(5):
        external_id = f"crm-{n}"
        for _ in range(20):  # the task's retries
            try:
                account, _ = OktopostPartnerHook().ensure_account(customer(external_id))
            except OktopostError as error:
                assert PASSWORD not in str(error)
                continue
            ids[external_id] = account.id
            break
    sandbox.set_chaos(0)
    accounts = sandbox.managed_accounts
    assert sorted(a["ExternalID"] for a in accounts) == [f"crm-{n}" for n in range(5)]
    assert {a["ExternalID"]: a["Id"] for a in accounts} == ids
    assert any(r.chaos for r in sandbox.requests)
