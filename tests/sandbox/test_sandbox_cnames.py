"""The sandbox's CNAME and integration-action endpoints over real HTTP: name rules, refusals, faults."""

from __future__ import annotations

import json
import re

import pytest
import requests

from airflow_provider_oktopost.testing import Fault, OktopostSandbox, SandboxClient

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def create(sandbox: OktopostSandbox, api: requests.Session, name: str) -> requests.Response:
    return api.post(f"{sandbox.base_url}/cname", data={"cname": name})


def test_create_list_get_update_delete(sandbox: OktopostSandbox, api: requests.Session) -> None:
    response = create(sandbox, api, "Links.Example.com")
    assert response.status_code == 200
    record = response.json()["Cname"]
    assert re.fullmatch(r"0CN[a-z0-9]{12}", record["Id"])
    assert record["Name"] == "links.example.com" and record["AccountId"] == sandbox.account_id
    assert TIMESTAMP.fullmatch(record["Created"]) and TIMESTAMP.fullmatch(record["Modified"])

    listed = api.get(f"{sandbox.base_url}/cname").json()
    assert listed == {"Result": True, "Items": [record], "Total": 1}
    got = api.get(f"{sandbox.base_url}/cname/{record['Id']}").json()
    assert got == {"Result": True, "Cname": record}

    updated = api.post(f"{sandbox.base_url}/cname/{record['Id']}", data={"cname": "go.example.com"}).json()
    assert updated == {"Result": True, "Cname": {"Id": record["Id"], "Name": "go.example.com"}}

    assert api.delete(f"{sandbox.base_url}/cname/{record['Id']}").json() == {"Result": True}
    gone = api.get(f"{sandbox.base_url}/cname/{record['Id']}")
    assert gone.status_code == 404 and gone.json()["Result"] is False
    assert api.delete(f"{sandbox.base_url}/cname/{record['Id']}").status_code == 404
    assert sandbox.cnames == []


@pytest.mark.parametrize(
    "name",
    [
        "https://links.example.com",
        "links.example.com/x",
        "links.example.com:443",
        "localhost",
        "a..b.com",
        "-a.example.com",
        "10.1.2.3",
    ],
)
def test_bad_host_names_are_refused(sandbox: OktopostSandbox, api: requests.Session, name: str) -> None:
    response = create(sandbox, api, name)
    assert response.status_code == 400
    body = response.json()
    assert body["Result"] is False and "Invalid host name" in json.dumps(body)
    assert sandbox.cnames == []


def test_missing_name_and_duplicates(sandbox: OktopostSandbox, api: requests.Session) -> None:
    missing = api.post(f"{sandbox.base_url}/cname", data={})
    assert missing.status_code == 400
    assert missing.json()["Errors"] == {"Param": {"get": "Missing value for parameter cname"}}
    first = create(sandbox, api, "links.example.com").json()["Cname"]
    again = create(sandbox, api, "LINKS.example.com.")
    assert again.status_code == 400 and first["Id"] in again.text and "already exists" in again.text
    other = create(sandbox, api, "other.example.com").json()["Cname"]
    clash = api.post(f"{sandbox.base_url}/cname/{other['Id']}", data={"cname": "links.example.com"})
    assert clash.status_code == 400
    assert len(sandbox.cnames) == 2


def test_paging_and_accounts(sandbox: OktopostSandbox, api: requests.Session) -> None:
    for i in range(30):
        sandbox.add_cname(f"h{i}.example.com")
    sandbox.add_account("001other0000001", "other-key")
    sandbox.add_cname("theirs.example.com", account_id="001other0000001")
    page1 = api.get(f"{sandbox.base_url}/cname", params={"_page": 1, "_count": 25}).json()
    assert page1["Total"] == 30 and len(page1["Items"]) == 5
    assert api.get(f"{sandbox.base_url}/cname", params={"_count": 10}).status_code == 400
    theirs = sandbox.cnames[-1]["Id"]
    assert api.get(f"{sandbox.base_url}/cname/{theirs}").status_code == 404


def test_deleting_a_cname_breaks_its_integrations(sandbox: OktopostSandbox, api: requests.Session) -> None:
    cname = create(sandbox, api, "links.example.com").json()["Cname"]
    on_it = sandbox.add_integration("cd", cname["Id"])
    elsewhere = sandbox.add_integration("cd", "0CN000000000009")
    api.delete(f"{sandbox.base_url}/cname/{cname['Id']}")
    assert sandbox.get(on_it["Id"])["Status"] == "invalid"  # type: ignore[index]
    assert sandbox.get(elsewhere["Id"])["Status"] == "valid"  # type: ignore[index]


def test_lost_create_is_committed(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.inject(Fault(kind="lost_response", method="POST", path="/v2/cname"))
    with pytest.raises(requests.ConnectionError):
        create(sandbox, api, "links.example.com")
    assert [c["Name"] for c in sandbox.cnames] == ["links.example.com"]
    sandbox.inject(Fault(kind="status", status=503, path="/v2/cname/.+"))
    assert api.get(f"{sandbox.base_url}/cname/{sandbox.cnames[0]['Id']}").status_code == 503


def action(sandbox: OktopostSandbox, api: requests.Session, **form: str) -> requests.Response:
    return api.post(f"{sandbox.base_url}/integration-action", data=form)


@pytest.mark.parametrize(
    ("type", "name", "payload", "shape"),
    [
        ("salesforce", "contact.getByEmail", {"email": "jane@example.com"}, "Email"),
        ("salesforce", "lead.getByEmail", {"email": "jane@example.com"}, "Email"),
        ("salesforce", "lead.search", {"query": "acme"}, "Items"),
        ("hubspot", "contact.getByEmail", {"email": "jane@example.com"}, "Email"),
        ("marketo", "lead.getByEmail", {"email": "jane@example.com"}, "Email"),
        ("marketo", "lead.search", {"query": "acme"}, "Items"),
        ("marketo", "lead.create", {"email": "new@example.com"}, "Created"),
    ],
)
def test_actions_per_type(
    sandbox: OktopostSandbox, api: requests.Session, type: str, name: str, payload: dict[str, str], shape: str
) -> None:
    integration = sandbox.add_integration(type, "0CN000000000001")
    response = action(sandbox, api, id=integration["Id"], actionName=name, payload=json.dumps(payload))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["Result"] is True and shape in body["IntegrationAction"]
    again = action(sandbox, api, id=integration["Id"], actionName=name, payload=json.dumps(payload))
    assert again.json() == body  # stable answers


def test_actions_are_refused_unless_valid_active_and_supported(
    sandbox: OktopostSandbox, api: requests.Session
) -> None:
    payload = json.dumps({"email": "jane@example.com"})
    invalid = sandbox.add_integration("salesforce", "0CN000000000001", status="invalid")
    disabled = sandbox.add_integration("salesforce", "0CN000000000002", state="disabled")
    for integration in (invalid, disabled):
        refused = action(sandbox, api, id=integration["Id"], actionName="contact.getByEmail", payload=payload)
        assert refused.status_code == 400
        assert refused.json() == {
            "Result": False,
            "Errors": ["Integration must have a valid status and be enabled to run actions"],
        }
    ready = sandbox.add_integration("cd", "0CN000000000003")
    unsupported = action(sandbox, api, id=ready["Id"], actionName="contact.getByEmail", payload=payload)
    assert unsupported.status_code == 400 and "not supported" in unsupported.text
    sf = sandbox.add_integration("salesforce", "0CN000000000004")
    missing = action(sandbox, api, id=sf["Id"], actionName="contact.getByEmail", payload="{}")
    assert missing.json()["Errors"] == ["Missing required field: email"]
    not_json = action(sandbox, api, id=sf["Id"], actionName="contact.getByEmail", payload="[1]")
    assert not_json.status_code == 400 and "JSON object" in not_json.text
    unknown = action(sandbox, api, id="014nothere00000", actionName="lead.search", payload="{}")
    assert unknown.status_code == 404
    no_name = action(sandbox, api, id=sf["Id"], payload=payload)
    assert no_name.json()["Errors"] == {"Param": {"get": "Missing value for parameter actionName"}}


def test_remote_client_sees_and_adds_cnames(sandbox: OktopostSandbox) -> None:
    with SandboxClient(sandbox.url) as client:
        added = client.add_cname("remote.example.com")
        assert client.cnames == [added] == sandbox.cnames
    assert sandbox.stats()["cnames"] == 1
    sandbox.reset()
    assert sandbox.cnames == []
