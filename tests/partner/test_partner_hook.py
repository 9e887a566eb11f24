"""``OktopostPartnerHook`` against the sandbox: listing, get, find by external id, exactly-once create."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from partner_support import PASSWORD, customer

from airflow_provider_oktopost._core import partner_ops
from airflow_provider_oktopost._core.budget.registry import budget_for
from airflow_provider_oktopost._core.config import PARTNER_API, PARTNER_URL, ClientConfig, config_from_fields
from airflow_provider_oktopost._core.driver import run_sync
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
from airflow_provider_oktopost.testing._accounts import DEFAULT_PARTNER_ID


def partner_config_from_fields(conn_id: str, **fields: Any) -> ClientConfig:
    """A partner connection's settings, as the partner hook reads them."""
    return config_from_fields(conn_id, api=PARTNER_API, **fields)


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


def test_one_builder_reads_both_connection_types_only_the_api_root_differs() -> None:
    """The partner API has no region and no ``/v2``; every other check is the ``oktopost`` one."""
    fields: dict[str, Any] = {"login": "001p", "password": "k", "extra": {"region": "eu"}}
    assert config_from_fields("c", host=None, **fields).base_url == "https://eu-api.oktopost.com/v2"
    assert partner_config_from_fields("p", host=None, **fields).base_url == PARTNER_URL
    assert config_from_fields("c", host="proxy.example", **fields).base_url == "https://proxy.example/v2"
    assert partner_config_from_fields("p", host="proxy.example", **fields).base_url == "https://proxy.example"
    with pytest.raises(OktopostConfigError, match=r"such as 'https://reseller\.oktopost\.com'"):
        partner_config_from_fields("p", host="ftp://proxy.example", **fields)
    with pytest.raises(OktopostConfigError, match="'region' must be 'us' or 'eu'"):
        config_from_fields("c", host=None, login="001p", password="k", extra={"region": "apac"})
    assert OktopostPartnerHook().oktopost_conn_id == "oktopost_partner_default"
    assert OktopostPartnerHook("mine").oktopost_conn_id == "mine"


def test_the_partner_form_on_airflow_3_0_and_3_1_is_the_declared_one() -> None:
    """3.0/3.1 build the form from the hook: the same fields as ``get_provider_info`` declares for 3.2+."""
    from wtforms import Form

    from airflow_provider_oktopost.get_provider_info import PARTNER_UI_FIELD_BEHAVIOUR, get_provider_info

    legacy = OktopostPartnerHook.get_ui_field_behaviour()
    assert legacy["hidden_fields"] == PARTNER_UI_FIELD_BEHAVIOUR["hidden-fields"]
    assert legacy["relabeling"]["login"] == "Partner Account ID"
    assert legacy["placeholders"] == PARTNER_UI_FIELD_BEHAVIOUR["placeholders"]
    widgets = OktopostPartnerHook.get_connection_form_widgets()
    types = get_provider_info()["connection-types"]
    declared = next(c for c in types if c["connection-type"] == "oktopost_partner")
    assert set(widgets) == set(declared["conn-fields"]) == {"timeout"}
    form = type("PartnerForm", (Form,), dict(widgets))()
    assert form.timeout.data is None and form.validate()


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


def _partner_connection(
    monkeypatch: pytest.MonkeyPatch, sandbox: OktopostSandbox, login: str, password: str
) -> None:
    """``oktopost_partner_default`` on the sandbox, with these credentials instead of the partner's."""
    connection = {"conn_type": "oktopost_partner", "login": login, "password": password, "host": sandbox.url}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_PARTNER_DEFAULT", json.dumps(connection))


def test_wrong_key_fails_with_auth_error(
    partner_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    _partner_connection(monkeypatch, partner_env, DEFAULT_PARTNER_ID, "wrong")
    with pytest.raises(OktopostAuthError):
        OktopostPartnerHook().list_accounts()
    ok, message = OktopostPartnerHook().test_connection()
    assert not ok and "401" in message and "wrong" not in message


def test_a_customer_key_is_not_a_partner_key(
    partner_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    _partner_connection(monkeypatch, partner_env, partner_env.account_id, partner_env.api_key)
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
