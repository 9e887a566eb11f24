"""Request building: validation names the parameter; values are encoded, never spliced into paths."""

from __future__ import annotations

import json

import pytest

from airflow_provider_oktopost._core import wire


def test_list_request_parameters() -> None:
    req = wire.list_request("facebook", 2, 50)
    assert (req.method, req.path) == ("GET", "/integration")
    assert req.params == (("type", "facebook"), ("_page", "2"), ("_count", "50"))
    assert wire.list_request().params == (("_page", "0"), ("_count", "25"))


@pytest.mark.parametrize(
    ("page", "count", "name"),
    [
        (-1, 25, "page"),
        (0, 10, "count"),
        (0, 200, "count"),
        ("1", 25, "page"),
        (True, 25, "page"),
        (0, True, "count"),
    ],
)
def test_list_request_rejects_bad_paging(page: object, count: object, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must"):
        wire.list_request(None, page, count)  # type: ignore[arg-type]


def test_get_request_with_assets_flag() -> None:
    assert wire.get_request("014abc", with_assets=True).params == (("withAssets", "1"),)
    assert wire.get_request("014abc").params == ()


@pytest.mark.parametrize(
    "bad", ["", "../me", "a/b", "a?b", "a#b", "a%2Fb", " 014", "014 ", "é", None, 14, "x" * 129]
)
def test_ids_are_validated_with_the_parameter_name(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^integration_id must"):
        wire.get_request(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^cname_id must"):
        wire.connect_request("cd", bad)  # type: ignore[arg-type]


def test_unknown_types_are_allowed_but_odd_characters_are_not() -> None:
    assert wire.connect_request("hubspot", "0CN000000000001").form[0] == ("type", "hubspot")
    with pytest.raises(ValueError, match=r"^type must"):
        wire.connect_request("cd/../x", "0CN000000000001")


def test_connect_is_form_encoded_and_not_idempotent() -> None:
    req = wire.connect_request(
        "cd",
        "0CN000000000001",
        {"trackingId": "UA-1", "tags": ["a", "b"], "options": {"x": 1}, "enabled": True, "ratio": 0.5},
    )
    assert req.idempotent is False
    form = dict(req.form)
    assert form["cnameId"] == "0CN000000000001"
    assert form["tags"] == '["a","b"]'
    assert json.loads(form["options"]) == {"x": 1}
    assert form["enabled"] == "1"
    assert form["ratio"] == "0.5"


def test_settings_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="reserved"):
        wire.connect_request("cd", "0CN000000000001", {"state": "active"})
    with pytest.raises(ValueError, match="settings key"):
        wire.connect_request("cd", "0CN000000000001", {"bad key": 1})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        wire.connect_request("cd", "0CN000000000001", {"x": {"y": float("nan")}})
    with pytest.raises(ValueError, match="settings must be a mapping"):
        wire.connect_request("cd", "0CN000000000001", ["x"])  # type: ignore[arg-type]


def test_update_needs_a_change_and_a_known_state() -> None:
    with pytest.raises(ValueError, match="at least one change"):
        wire.update_request("014abc")
    with pytest.raises(ValueError, match=r"^state must be one of 'active', 'disabled'"):
        wire.update_request("014abc", state="paused")
    req = wire.update_request("014abc", state="disabled", cname_id="0CN000000000002")
    assert req.form == (("state", "disabled"), ("cnameId", "0CN000000000002"))
    assert req.idempotent


def test_paths_are_percent_encoded() -> None:
    assert wire.delete_request("014-a_b").path == "/integration/014-a_b"
