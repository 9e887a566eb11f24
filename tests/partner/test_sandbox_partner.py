"""The sandbox's partner API and its many accounts: the documented rules, each proved over real HTTP."""

from __future__ import annotations

import requests
from partner_support import PASSWORD

from airflow_provider_oktopost.testing import OktopostSandbox, SandboxClient
from airflow_provider_oktopost.testing._accounts import DEFAULT_PARTNER_ID, DEFAULT_PARTNER_KEY

PARTNER = (DEFAULT_PARTNER_ID, DEFAULT_PARTNER_KEY)
FORM = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "company": "Acme",
    "email": "ada@acme.example",
    "password": PASSWORD,
    "licenseId": "017_SUB_ACME_V7",
}


def _post(sandbox: OktopostSandbox, form: dict[str, str]) -> requests.Response:
    return requests.post(f"{sandbox.url}/account", auth=PARTNER, data=form, timeout=10)


def test_create_list_get(oktopost_sandbox: OktopostSandbox) -> None:
    created = _post(oktopost_sandbox, {**FORM, "eid": "crm-1"})
    assert created.status_code == 200
    body = created.json()
    assert body["Result"] is True and body["Total"] == 1
    record = body["Items"][0]
    assert record["ExternalID"] == "crm-1" and record["Name"] == "Acme" and record["Id"].startswith("001")
    assert record["OwnerName"] == "Ada Lovelace" and record["LicenseId"] == "017_SUB_ACME_V7"
    listed = requests.get(f"{oktopost_sandbox.url}/account", auth=PARTNER, timeout=10).json()
    assert listed == {"Result": True, "Items": [record], "Total": 1}
    one = requests.get(f"{oktopost_sandbox.url}/account/{record['Id']}", auth=PARTNER, timeout=10).json()
    assert one == {"Result": True, "Items": [record], "Total": 1}
    assert PASSWORD not in created.text


def test_every_field_is_required(oktopost_sandbox: OktopostSandbox) -> None:
    for name in FORM:
        answer = _post(oktopost_sandbox, {k: v for k, v in FORM.items() if k != name})
        assert answer.status_code == 400
        assert answer.json() == {
            "Result": False,
            "Errors": {"Param": {"post": f"Missing value for parameter {name}"}},
        }
    assert oktopost_sandbox.managed_accounts == []


def test_external_id_is_unique(oktopost_sandbox: OktopostSandbox) -> None:
    assert _post(oktopost_sandbox, {**FORM, "eid": "crm-1"}).status_code == 200
    again = _post(oktopost_sandbox, {**FORM, "eid": "crm-1", "company": "Other"})
    assert again.status_code == 400
    assert "External ID crm-1 is already in use" in again.text
    # Without an external id, the same company may be created twice (nothing is unique then).
    assert _post(oktopost_sandbox, FORM).status_code == 200
    assert _post(oktopost_sandbox, FORM).status_code == 200
    assert len(oktopost_sandbox.managed_accounts) == 3


def test_only_partners_and_only_their_accounts(oktopost_sandbox: OktopostSandbox) -> None:
    customer = (oktopost_sandbox.account_id, oktopost_sandbox.api_key)
    assert requests.get(f"{oktopost_sandbox.url}/account", auth=customer, timeout=10).status_code == 403
    assert requests.get(f"{oktopost_sandbox.url}/account", auth=("x", "y"), timeout=10).status_code == 401
    oktopost_sandbox.add_partner("001partner00002", "other-partner-key")
    mine = oktopost_sandbox.add_managed_account(DEFAULT_PARTNER_ID, "Mine", external_id="m-1")
    other = ("001partner00002", "other-partner-key")
    assert requests.get(f"{oktopost_sandbox.url}/account", auth=other, timeout=10).json()["Total"] == 0
    answer = requests.get(f"{oktopost_sandbox.url}/account/{mine['Id']}", auth=other, timeout=10)
    assert answer.status_code == 404


def test_query_and_paging(oktopost_sandbox: OktopostSandbox) -> None:
    for n in range(30):
        oktopost_sandbox.add_managed_account(DEFAULT_PARTNER_ID, f"Company {n:02d}", external_id=f"e-{n}")
    url = f"{oktopost_sandbox.url}/account"
    page = requests.get(url, auth=PARTNER, params={"_page": "1", "_count": "25"}, timeout=10).json()
    assert page["Total"] == 30 and [i["Name"] for i in page["Items"]] == [
        f"Company {n}" for n in range(25, 30)
    ]
    found = requests.get(url, auth=PARTNER, params={"query": "company 07"}, timeout=10).json()
    assert [i["ExternalID"] for i in found["Items"]] == ["e-7"]
    by_eid = requests.get(url, auth=PARTNER, params={"query": "e-12"}, timeout=10).json()
    assert [i["ExternalID"] for i in by_eid["Items"]] == ["e-12"]


def test_password_masked_in_request_log_and_never_kept(oktopost_sandbox: OktopostSandbox) -> None:
    _post(oktopost_sandbox, {**FORM, "eid": "crm-1"})
    [entry] = oktopost_sandbox.requests
    assert entry.form["password"] == "***" and entry.account == DEFAULT_PARTNER_ID
    assert PASSWORD not in repr(oktopost_sandbox.requests)
    assert PASSWORD not in repr(vars(oktopost_sandbox.state.partners))
    with SandboxClient(oktopost_sandbox.url) as client:
        assert PASSWORD not in requests.get(f"{oktopost_sandbox.url}/_sandbox/requests", timeout=10).text
        assert client.requests[0].form["password"] == "***"


def test_create_answer_with_an_account_key(oktopost_sandbox: OktopostSandbox) -> None:
    oktopost_sandbox.set_create_answer("account")
    body = _post(oktopost_sandbox, {**FORM, "eid": "crm-1"}).json()
    assert body["Result"] is True and body["Account"]["ExternalID"] == "crm-1"


def test_planned_account_gets_its_id_and_key(oktopost_sandbox: OktopostSandbox) -> None:
    oktopost_sandbox.plan_account("crm-9", "001customer0009", "customer-9-key")
    assert _post(oktopost_sandbox, {**FORM, "eid": "crm-9"}).json()["Items"][0]["Id"] == "001customer0009"
    me = requests.get(
        f"{oktopost_sandbox.base_url}/me", auth=("001customer0009", "customer-9-key"), timeout=10
    )
    assert me.status_code == 200 and me.json()["Account"]["Id"] == "001customer0009"


def test_each_account_has_its_own_key_rate_limit_and_block(oktopost_sandbox: OktopostSandbox) -> None:
    sandbox = oktopost_sandbox
    sandbox.add_account("001a00000000001", "key-a")
    sandbox.add_account("001b00000000001", "key-b")
    sandbox.add_account("001c00000000001", "key-c")
    sandbox.set_account_rate_limit("001a00000000001", 2)
    me = f"{sandbox.base_url}/me"

    def status(account: str, key: str) -> int:
        return requests.get(me, auth=(account, key), timeout=10).status_code

    assert status("001a00000000001", "key-b") == 401  # each account its own key
    assert [status("001a00000000001", "key-a") for _ in range(3)] == [200, 200, 429]
    assert [status("001b00000000001", "key-b") for _ in range(3)] == [200, 200, 200]  # the sandbox's 60
    sandbox.block_account("001c00000000001", 60)
    assert status("001c00000000001", "key-c") == 429
    assert status("001b00000000001", "key-b") == 200
    counts = sandbox.rate_limited_by_account()
    assert counts["001a00000000001"] == {"refused": 1, "over_limit": 1}
    assert counts["001b00000000001"] == {"refused": 0, "over_limit": 0}
    assert counts["001c00000000001"] == {"refused": 1, "over_limit": 0}
    sandbox.advance(61)
    assert status("001c00000000001", "key-c") == 200


def test_control_routes_drive_a_remote_sandbox(oktopost_sandbox: OktopostSandbox) -> None:
    with SandboxClient(oktopost_sandbox.url) as client:
        client.add_partner("001partner00003", "p3-key")
        client.add_account("001d00000000001", "key-d")
        client.set_account_rate_limit("001d00000000001", 1)
        client.plan_account("crm-r", "001remote000001", "remote-key")
        client.add_managed_account("001partner00003", "Remote Co", external_id="crm-s")
        client.set_create_answer("account")
        client.block_account("001d00000000001", 30)
        assert [a["ExternalID"] for a in client.managed_accounts] == ["crm-s"]
        assert client.rate_limited_by_account()["001d00000000001"] == {"refused": 0, "over_limit": 0}
    assert oktopost_sandbox.state.is_partner("001partner00003")
    assert oktopost_sandbox.state.rate_limit_for("001d00000000001") == 1
    assert oktopost_sandbox.state.partners.create_answer == "account"
    me = requests.get(f"{oktopost_sandbox.base_url}/me", auth=("001d00000000001", "key-d"), timeout=10)
    assert me.status_code == 429
