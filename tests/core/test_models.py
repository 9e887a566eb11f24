"""Model parsing is lenient: odd values from the server never crash a DAG."""

from __future__ import annotations

import pendulum
import pytest

from airflow_provider_oktopost.models import (
    Integration,
    IntegrationState,
    IntegrationStatus,
    Me,
    parse_datetime,
)

DOC_ITEM = {
    "Id": "014000000000001",
    "Created": "2016-12-18 12:47:58",
    "Modified": "2017-05-21 11:02:55",
    "Status": "valid",
    "State": "active",
    "AccountId": "001000000000001",
    "Type": "facebook",
    "Version": 1,
    "CnameId": None,
    "SettingsData": {"pixel": "1"},
}


def test_documented_item() -> None:
    item = Integration.from_api(DOC_ITEM)
    assert item.id == "014000000000001"
    assert item.status is IntegrationStatus.VALID and item.state is IntegrationState.ACTIVE
    assert item.is_ready
    assert item.created == pendulum.datetime(2016, 12, 18, 12, 47, 58, tz="UTC")
    assert item.cname_id is None and item.version == 1
    assert item.raw == DOC_ITEM
    data = item.to_dict()
    assert data["created"] == "2016-12-18T12:47:58+00:00"
    assert data["status"] == "valid" and data["is_ready"] is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0000-00-00 00:00:00", None),
        ("2017-06-1 12:00:00", pendulum.datetime(2017, 6, 1, 12, tz="UTC")),
        ("2019-06-30T00:00:00", pendulum.datetime(2019, 6, 30, tz="UTC")),
        ("2019-06-30", pendulum.datetime(2019, 6, 30, tz="UTC")),
        (1500000000, pendulum.from_timestamp(1500000000, tz="UTC")),
        ("2019-13-45 99:99:99", None),
        ("yesterday", None),
        ("", None),
        (None, None),
        (True, None),
        ([], None),
        (10**20, None),
    ],
)
def test_dates(value: object, expected: object) -> None:
    assert parse_datetime(value) == expected


def test_unknown_values_are_kept_as_strings() -> None:
    item = Integration.from_api(
        {
            "Id": "014x",
            "Type": "eloqua",
            "Status": "pending",
            "State": "paused",
            "Version": "two",
            "SettingsData": [],
            "Assets": "none",
        }
    )
    assert item.status == "pending" and item.state == "paused"
    assert not item.is_ready
    assert item.type == "eloqua" and item.version is None and item.settings == {} and item.assets is None
    assert item.matches(status="pending") and not item.matches(state="active")


def test_empty_object() -> None:
    item = Integration.from_api({})
    assert item.id == "" and not item.is_ready


def test_me() -> None:
    me = Me.from_api(
        {
            "Result": True,
            "User": {"Id": "00A1", "Name": "Ann", "Email": "a@x"},
            "Account": {"Id": "001", "Name": "Acme"},
        }
    )
    assert (me.user_name, me.account_id, me.account_name) == ("Ann", "001", "Acme")
    assert Me.from_api({"User": "x"}).account_id is None
