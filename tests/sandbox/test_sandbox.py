"""The sandbox's Oktopost API semantics, checked over real HTTP (``requests`` and ``httpx``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
import requests

from airflow_provider_oktopost.testing import DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY, OktopostSandbox

INVALID_CREDENTIALS = {"Result": False, "Errors": {"API": {"Error": "Invalid credentials"}}}
NOT_FOUND = {"Result": False, "Errors": {"API": {"Error": "Integration not found"}}}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def test_defaults_look_like_real_credentials() -> None:
    assert len(DEFAULT_ACCOUNT_ID) == 15
    assert DEFAULT_ACCOUNT_ID.startswith("001")
    assert DEFAULT_API_KEY == "sandbox-api-key"


def test_me(sandbox: OktopostSandbox, api: requests.Session) -> None:
    response = api.get(f"{sandbox.base_url}/me")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["Result"] is True
    assert body["Account"] == {"Id": DEFAULT_ACCOUNT_ID, "Name": "Oktopost Sandbox"}
    user = body["User"]
    assert re.fullmatch(r"00A[0-9a-f]{12}", user["Id"])
    assert (user["Name"], user["Email"]) == ("Sandbox User", "sandbox@example.com")
    assert TIMESTAMP.fullmatch(user["LastLogin"])


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sandbox-api-key"},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Basic " + "MDAxc2FuZGJveDAwMDAx"},  # "001sandbox00001" without ":key"
    ],
    ids=["none", "bearer", "garbage", "no-colon"],
)
def test_missing_or_malformed_auth_is_401(sandbox: OktopostSandbox, headers: dict[str, str]) -> None:
    response = requests.get(f"{sandbox.base_url}/me", headers=headers)
    assert response.status_code == 401
    assert response.json() == INVALID_CREDENTIALS


@pytest.mark.parametrize("auth", [(DEFAULT_ACCOUNT_ID, "wrong"), ("001other0000001", DEFAULT_API_KEY)])
def test_wrong_credentials_are_401_with_httpx(sandbox: OktopostSandbox, auth: tuple[str, str]) -> None:
    response = httpx.get(f"{sandbox.base_url}/integration", auth=auth)
    assert response.status_code == 401
    assert response.json() == INVALID_CREDENTIALS


def test_forbidden_key_is_403(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.configure(forbidden_keys=[sandbox.api_key])
    response = api.get(f"{sandbox.base_url}/me")
    assert response.status_code == 403
    assert response.json() == {
        "Result": False,
        "Errors": {"api": {"message": "API access is disabled for this account"}},
    }
    sandbox.reset(restore_config=True)
    assert api.get(f"{sandbox.base_url}/me").status_code == 200


def test_each_account_sees_only_its_integrations(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.add_account("001second000001", "second-key")
    mine = sandbox.add_integration()
    theirs = sandbox.add_integration(account_id="001second000001")
    listed = api.get(f"{sandbox.base_url}/integration").json()
    assert [i["Id"] for i in listed["Items"]] == [mine["Id"]]
    assert api.get(f"{sandbox.base_url}/integration/{theirs['Id']}").status_code == 404
    other = requests.get(f"{sandbox.base_url}/me", auth=("001second000001", "second-key")).json()
    assert other["Account"]["Id"] == "001second000001"


def _ids(api: requests.Session, url: str, count: int) -> tuple[list[str], int]:
    """Walk pages like a client would; returns all ids and the Total of the first page."""
    ids: list[str] = []
    page, total = 0, -1
    while True:
        body = api.get(url, params={"_page": page, "_count": count}).json()
        assert body["Result"] is True
        total = body["Total"] if total < 0 else total
        assert body["Total"] == total
        ids += [item["Id"] for item in body["Items"]]
        if not body["Items"]:
            return ids, total
        page += 1


@pytest.mark.parametrize("n", [0, 1, 25, 101])
def test_list_pages(sandbox: OktopostSandbox, api: requests.Session, n: int) -> None:
    created = [sandbox.add_integration(created=1_700_000_000 + i)["Id"] for i in range(n)]
    url = f"{sandbox.base_url}/integration"
    for size in (25, 100):
        ids, total = _ids(api, url, size)
        assert total == n
        assert ids == created
    default = api.get(url).json()
    assert len(default["Items"]) == min(n, 25)
    assert default["Total"] == n
    assert api.get(url, params={"_page": 50}).json() == {"Result": True, "Items": [], "Total": n}


def test_list_order_is_creation_then_id(sandbox: OktopostSandbox, api: requests.Session) -> None:
    late = sandbox.add_integration(created=2_000)
    same = sorted([sandbox.add_integration(created=1_000)["Id"] for _ in range(3)])
    items = api.get(f"{sandbox.base_url}/integration").json()["Items"]
    assert [i["Id"] for i in items] == [*same, late["Id"]]


@pytest.mark.parametrize("count", ["10", "20", "0", "200", "abc", "25.0", "-25", ""])
def test_invalid_page_size_is_400(sandbox: OktopostSandbox, api: requests.Session, count: str) -> None:
    response = api.get(f"{sandbox.base_url}/integration", params={"_count": count})
    assert response.status_code == 400
    assert response.json() == {"Result": False, "Errors": [f"Page size {count} is not valid."]}


@pytest.mark.parametrize("page", ["-1", "x", "1.5"])
def test_invalid_page_is_400(sandbox: OktopostSandbox, api: requests.Session, page: str) -> None:
    response = api.get(f"{sandbox.base_url}/integration", params={"_page": page})
    assert response.status_code == 400
    assert response.json() == {
        "Result": False,
        "Errors": {"Param": {"get": "Invalid value for parameter _page"}},
    }


def test_type_filter(sandbox: OktopostSandbox, api: requests.Session) -> None:
    for kind in ("cd", "ga", "cd", "hubspot"):
        sandbox.add_integration(type=kind)
    url = f"{sandbox.base_url}/integration"
    assert api.get(url, params={"type": "cd"}).json()["Total"] == 2
    assert [i["Type"] for i in api.get(url, params={"type": "hubspot"}).json()["Items"]] == ["hubspot"]
    assert api.get(url, params={"type": "facebook"}).json() == {"Result": True, "Items": [], "Total": 0}
    assert api.get(url, params={"type": ""}).json()["Total"] == 4


def test_get_with_and_without_assets(sandbox: OktopostSandbox, api: requests.Session) -> None:
    record = sandbox.add_integration(type="facebook", settings={"pixel": "123"})
    url = f"{sandbox.base_url}/integration/{record['Id']}"
    plain = api.get(url).json()
    assert plain == {"Result": True, "Integration": record}
    assert "Assets" not in plain["Integration"]
    full = api.get(url, params={"withAssets": 1}).json()["Integration"]
    assets = full.pop("Assets")
    assert full == record
    (credential,) = assets["Credentials"]
    assert re.fullmatch(rf"003-{DEFAULT_ACCOUNT_ID}-\d+", credential["Id"])
    assert set(credential) == {"Id", "Name", "DisplayName", "Status", "Network"}
    assert (credential["Status"], credential["Network"]) == ("valid", "LinkedIn")
    (board,) = assets["Boards"]
    assert re.fullmatch(r"brd[0-9a-f]{12}", board["Id"])
    assert set(board) == {"Id", "Name", "Status"}
    assert api.get(url, params={"withAssets": 1}).json()["Integration"]["Assets"] == assets


def test_get_unknown_is_404(sandbox: OktopostSandbox, api: requests.Session) -> None:
    response = api.get(f"{sandbox.base_url}/integration/014000000000000")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_connect_is_form_encoded_and_stores_settings(sandbox: OktopostSandbox, api: requests.Session) -> None:
    form = {
        "type": "pardot",
        "cnameId": "0CN000000000001",
        "businessUnit": "0Uv000000000001",
        "mapping": '{"email": "Email", "nested": [1, 2]}',
        "list": "[1, 2]",
        "notJson": "{broken",
        "number": "42",
    }
    response = api.post(f"{sandbox.base_url}/integration", data=form)
    assert response.status_code == 200
    assert response.json()["Result"] is True
    summary = response.json()["Integration"]
    assert set(summary) == {"Id", "Type", "Status", "State"}
    assert re.fullmatch(r"014[a-z0-9]{12}", summary["Id"])
    assert (summary["Type"], summary["Status"], summary["State"]) == ("pardot", "invalid", "active")
    (logged,) = sandbox.requests
    assert logged.form == form

    record = api.get(f"{sandbox.base_url}/integration/{summary['Id']}").json()["Integration"]
    expected_keys = ["Id", "Created", "Modified", "Status", "State", "AccountId", "Type", "Version"]
    assert list(record) == [*expected_keys, "CnameId", "SettingsData"]
    assert record["Status"] == "valid"  # validation_delay 0: valid on the next read
    assert (record["AccountId"], record["Version"], record["CnameId"]) == (
        DEFAULT_ACCOUNT_ID,
        1,
        "0CN000000000001",
    )
    assert record["Created"] == record["Modified"]
    created = datetime.strptime(record["Created"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs(created.timestamp() - sandbox.now()) < 5
    assert record["SettingsData"] == {
        "businessUnit": "0Uv000000000001",
        "mapping": {"email": "Email", "nested": [1, 2]},
        "list": [1, 2],
        "notJson": "{broken",
        "number": "42",
    }


@pytest.mark.parametrize(
    ("form", "missing"),
    [
        ({"cnameId": "0CN000000000001"}, "type"),
        ({"type": "cd"}, "cnameId"),
        ({"type": "cd", "cnameId": ""}, "cnameId"),
    ],
)
def test_connect_missing_parameter_is_400(
    sandbox: OktopostSandbox, api: requests.Session, form: dict[str, str], missing: str
) -> None:
    response = api.post(f"{sandbox.base_url}/integration", data=form)
    assert response.status_code == 400
    assert response.json() == {
        "Result": False,
        "Errors": {"Param": {"get": f"Missing value for parameter {missing}"}},
    }
    assert sandbox.integrations == []


def test_connect_with_json_body_is_rejected(sandbox: OktopostSandbox, api: requests.Session) -> None:
    response = api.post(f"{sandbox.base_url}/integration", json={"type": "cd", "cnameId": "0CN000000000001"})
    assert response.status_code == 400
    assert response.json()["Errors"] == {"Param": {"get": "Missing value for parameter type"}}


def test_connect_twice_creates_duplicates(sandbox: OktopostSandbox, api: requests.Session) -> None:
    form = {"type": "cd", "cnameId": "0CN000000000001"}
    first = api.post(f"{sandbox.base_url}/integration", data=form).json()["Integration"]["Id"]
    second = api.post(f"{sandbox.base_url}/integration", data=form).json()["Integration"]["Id"]
    assert first != second
    assert [i["Id"] for i in sandbox.integrations] == [first, second]


def test_validation_delay_follows_the_sandbox_clock(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.configure(validation_delay=30)
    created = api.post(f"{sandbox.base_url}/integration", data={"type": "cd", "cnameId": "0CN000000000001"})
    url = f"{sandbox.base_url}/integration/{created.json()['Integration']['Id']}"
    assert api.get(url).json()["Integration"]["Status"] == "invalid"
    sandbox.advance(25)
    assert api.get(url).json()["Integration"]["Status"] == "invalid"
    sandbox.advance(5)
    assert api.get(url).json()["Integration"]["Status"] == "valid"


def test_forced_status_sticks(sandbox: OktopostSandbox, api: requests.Session) -> None:
    record = sandbox.add_integration(status="invalid")
    url = f"{sandbox.base_url}/integration/{record['Id']}"
    sandbox.advance(10_000)
    assert api.get(url).json()["Integration"]["Status"] == "invalid"
    sandbox.set_status(record["Id"], "error")  # not a documented value: lets clients test fail-closed paths
    assert api.get(url).json()["Integration"]["Status"] == "error"
    sandbox.set_status(record["Id"], None)
    assert api.get(url).json()["Integration"]["Status"] == "valid"
    sandbox.set_state(record["Id"], "disabled")
    assert sandbox.get(record["Id"]) == {**api.get(url).json()["Integration"], "State": "disabled"}
    with pytest.raises(KeyError):
        sandbox.set_status("014nope", "valid")


def test_update_state_cname_and_settings(sandbox: OktopostSandbox, api: requests.Session) -> None:
    record = sandbox.add_integration(settings={"keep": "me", "replace": "old"})
    url = f"{sandbox.base_url}/integration/{record['Id']}"
    sandbox.advance(3600)
    form = {"state": "disabled", "cnameId": "0CN000000000002", "replace": "new", "extra": '{"a": 1}'}
    response = api.post(url, data=form)
    assert (response.status_code, response.json()) == (200, {"Result": True})
    updated = api.get(url).json()["Integration"]
    assert (updated["State"], updated["CnameId"], updated["Version"]) == ("disabled", "0CN000000000002", 2)
    assert updated["SettingsData"] == {"keep": "me", "replace": "new", "extra": {"a": 1}}
    assert updated["Created"] == record["Created"]
    assert updated["Modified"] > record["Modified"]
    assert api.post(url, data={"state": "active"}).json() == {"Result": True}
    assert api.get(url).json()["Integration"]["Version"] == 3


@pytest.mark.parametrize("state", ["paused", "", "ACTIVE"])
def test_update_with_invalid_state_is_http_200_result_false(
    sandbox: OktopostSandbox, api: requests.Session, state: str
) -> None:
    record = sandbox.add_integration()
    response = api.post(f"{sandbox.base_url}/integration/{record['Id']}", data={"state": state})
    assert response.status_code == 200
    assert response.json() == {
        "Result": False,
        "Errors": {"api": {"message": f"Invalid value for state: {state}"}},
    }
    assert sandbox.get(record["Id"]) == record


def test_delete_then_404_everywhere(sandbox: OktopostSandbox, api: requests.Session) -> None:
    record = sandbox.add_integration()
    url = f"{sandbox.base_url}/integration/{record['Id']}"
    response = api.delete(url)
    assert (response.status_code, response.json()) == (200, {"Result": True})
    assert sandbox.integrations == []
    for call in (api.get(url), api.post(url, data={"state": "active"}), api.delete(url)):
        assert (call.status_code, call.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/social-profile"),
        ("GET", ""),
        ("GET", "/"),
        ("GET", "/integration/014000000000001/extra"),
        ("PUT", "/integration"),
        ("PATCH", "/integration/014000000000001"),
    ],
)
def test_unknown_path_is_404_with_empty_errors(
    sandbox: OktopostSandbox, api: requests.Session, method: str, path: str
) -> None:
    response = api.request(method, f"{sandbox.base_url}{path}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"Result": False, "Errors": []}


def test_request_log_never_holds_credentials(sandbox: OktopostSandbox, api: requests.Session) -> None:
    record = sandbox.add_integration()  # direct additions are not logged
    api.get(f"{sandbox.base_url}/integration", params={"type": "cd", "_count": "50"})
    api.post(f"{sandbox.base_url}/integration/{record['Id']}", data={"state": "disabled"})
    requests.get(f"{sandbox.base_url}/me", auth=("x", "y"))
    log = sandbox.requests
    assert [(e.method, e.path, e.status, e.fault) for e in log] == [
        ("GET", "/v2/integration", 200, None),
        ("POST", f"/v2/integration/{record['Id']}", 200, None),
        ("GET", "/v2/me", 401, None),
    ]
    assert log[0].query == {"type": "cd", "_count": "50"}
    assert log[1].form == {"state": "disabled"}
    assert all(abs(e.time - sandbox.now()) < 5 for e in log)
    dumped = repr([e.to_dict() for e in log])
    assert sandbox.api_key not in dumped
    assert "Basic" not in dumped
    assert sandbox.count() == 3
    assert sandbox.count("get") == 2
    assert sandbox.count(path_regex=r"/v2/integration.*") == 2
    assert sandbox.count("POST", r"/v2/integration") == 0
    sandbox.clear_requests()
    assert sandbox.requests == []
    assert sandbox.stats()["requests"] == 3
