"""CNAME and integration-action request builders: host names, action names and payloads checked first."""

from __future__ import annotations

import pytest

from airflow_provider_oktopost._core import wire
from airflow_provider_oktopost.models import ActionResult, Cname


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("links.example.com", "links.example.com"),
        ("Links.Example.COM", "links.example.com"),
        ("links.example.com.", "links.example.com"),
        ("a-b.c-d.example.co.uk", "a-b.c-d.example.co.uk"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("go.1example.io", "go.1example.io"),
    ],
)
def test_host_names_accepted_and_normalised(given: str, expected: str) -> None:
    assert wire.require_host_name("host_name", given) == expected


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("https://links.example.com", "scheme"),
        ("links.example.com/path", "path"),
        ("links.example.com?x=1", "path or query"),
        ("links.example.com:8080", "port"),
        ("user@links.example.com", "user"),
        ("localhost", "two labels"),
        ("links..example.com", "empty label"),
        (".example.com", "empty label"),
        ("-links.example.com", "label '-links'"),
        ("links_x.example.com", "label 'links_x'"),
        ("a" * 64 + ".example.com", "1 to 63"),
        (("a" * 60 + ".") * 5 + "com", "253"),
        ("10.0.0.1", "IP address"),
        ("bücher.example", "xn--"),
        ("links example.com", "label"),
        ("", "host name such as"),
        (None, "host name such as"),
        (42, "host name such as"),
    ],
)
def test_bad_host_names_fail_naming_the_argument(given: object, why: str) -> None:
    with pytest.raises(ValueError, match="host_name") as raised:
        wire.require_host_name("host_name", given)
    assert why in str(raised.value)


def test_cname_requests() -> None:
    assert wire.cname_list_request(2, 100) == wire.ApiRequest(
        "GET", "/cname", params=(("_page", "2"), ("_count", "100"))
    )
    assert wire.cname_get_request("0CN000000000001").path == "/cname/0CN000000000001"
    create = wire.cname_create_request("Links.Example.com")
    assert (create.method, create.path, create.form) == ("POST", "/cname", (("cname", "links.example.com"),))
    assert create.idempotent is False
    update = wire.cname_update_request("0CN000000000001", "new.example.com")
    assert (update.method, update.path, update.form, update.idempotent) == (
        "POST",
        "/cname/0CN000000000001",
        (("cname", "new.example.com"),),
        True,
    )
    delete = wire.cname_delete_request("0CN000000000001")
    assert (delete.method, delete.path) == ("DELETE", "/cname/0CN000000000001")


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: wire.cname_get_request("../me"), "cname_id"),
        (lambda: wire.cname_delete_request(""), "cname_id"),
        (lambda: wire.cname_update_request("0CN000000000001", "https://x.example.com"), "host_name"),
        (lambda: wire.cname_create_request("x.example.com/a"), "host_name"),
        (lambda: wire.cname_list_request(0, 10), "count"),
        (lambda: wire.action_request("014/..", "lead.search", {}), "integration_id"),
        (lambda: wire.action_request("014000000000001", "search", {}), "action_name"),
        (lambda: wire.action_request("014000000000001", "lead.search; rm", {}), "action_name"),
        (lambda: wire.action_request("014000000000001", "lead.search", "[1]"), "payload"),
        (lambda: wire.action_request("014000000000001", "lead.search", "{not json"), "payload"),
        (lambda: wire.action_request("014000000000001", "lead.search", {"x": {1, 2}}), "payload"),
    ],
)
def test_builders_name_the_bad_argument(build: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        build()  # type: ignore[operator]


def test_action_request_encodes_the_payload_as_a_json_string() -> None:
    request = wire.action_request("014000000000001", "contact.getByEmail", {"email": "a@example.com"})
    assert request.path == "/integration-action"
    assert request.form == (
        ("id", "014000000000001"),
        ("actionName", "contact.getByEmail"),
        ("payload", '{"email":"a@example.com"}'),
    )
    assert request.idempotent is False  # only the caller can declare an action safe to re-send
    same = wire.action_request("014000000000001", "contact.getByEmail", '{"email": "a@example.com"}')
    assert same.form == request.form
    assert wire.action_request("014000000000001", "lead.search", {}, safe_to_resend=True).idempotent


@pytest.mark.parametrize(
    ("action", "reads"),
    [
        ("contact.getByEmail", True),
        ("lead.getByEmail", True),
        ("lead.search", True),
        ("contact.list", True),
        ("lead.findDuplicates", True),
        ("lead.create", False),
        ("contact.update", False),
        ("lead.getOrCreate", False),
        ("lead.searchAndMerge", False),
        ("lead.convert", False),
        ("campaign.addMember", False),
    ],
)
def test_read_actions_are_recognised_by_their_verb(action: str, reads: bool) -> None:
    assert wire.is_read_action(action) is reads


def test_cname_model_is_lenient() -> None:
    cname = Cname.from_api(
        {
            "Id": "0CN000000000001",
            "Name": "links.example.com",
            "AccountId": "001",
            "Created": "2026-01-02 03:04:05",
        }
    )
    assert cname.to_dict() == {
        "id": "0CN000000000001",
        "name": "links.example.com",
        "account_id": "001",
        "created": "2026-01-02T03:04:05+00:00",
        "modified": None,
    }
    assert Cname.from_api({}).id == ""


def test_action_result_summary_has_no_values() -> None:
    person = {"Id": "00Q1", "Email": "jane@example.com", "FirstName": "Jane"}
    result = ActionResult("014000000000001", "contact.getByEmail", person)
    assert "jane" not in repr(result).lower()
    summary = result.summary()
    assert summary == {
        "integration_id": "014000000000001",
        "action_name": "contact.getByEmail",
        "result_type": "dict",
        "fields": ["Email", "FirstName", "Id"],
        "records": 1,
    }
    assert "jane" not in str(summary).lower()
    search = ActionResult("014000000000001", "lead.search", {"Items": [person, person], "Total": 2})
    assert search.summary()["records"] == 2
    assert ActionResult("014000000000001", "lead.search", None).summary()["records"] == 0
    assert result.to_dict()["data"] == person
