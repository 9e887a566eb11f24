"""The listing fast paths give what the plain constructor gives: dates parsed on first read, same values.

``Integration.from_api`` / ``Cname.from_api`` fill the frozen instance directly and leave the dates as text
(``_core.timestamps.Timestamp``); these checks pin that the result cannot be told apart
from building the object field by field, whatever the server sent.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pendulum
import pytest

from airflow_provider_oktopost import models
from airflow_provider_oktopost.models import Cname, Integration, cnames_of_page, integrations_of_page

ODD_ITEMS: list[dict[str, Any]] = [
    {
        "Id": "014a",
        "Created": "2016-12-18 12:47:58",
        "Modified": "0000-00-00 00:00:00",
        "Status": "valid",
        "State": "active",
        "AccountId": "001",
        "Type": "cd",
        "Version": 1,
        "CnameId": "0CN1",
        "SettingsData": {"pixel": "1"},
    },
    {"Id": 14, "Type": None, "Status": "VALID", "State": "Disabled", "Version": True, "CnameId": ""},
    {"Status": ["x"], "State": {"a": 1}, "AccountId": 7, "SettingsData": [], "Assets": "none"},
    {"Created": 1500000000, "Modified": "2017-06-1 12:00:00", "Version": "2", "Assets": {"k": "v"}},
    {"Created": "yesterday", "Modified": None, "Status": None, "State": ""},
]


def slow_integration(data: dict[str, Any]) -> Integration:
    """The object built the plain way, through ``__init__``, every field parsed at once."""
    version = data.get("Version")
    return Integration(
        id=str(data.get("Id") or ""),
        type=str(data.get("Type") or ""),
        status=models._enum_or_str(models.IntegrationStatus, data.get("Status")),
        state=models._enum_or_str(models.IntegrationState, data.get("State")),
        account_id=models._opt_str(data.get("AccountId")),
        version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        cname_id=models._opt_str(data.get("CnameId")),
        settings=data["SettingsData"] if isinstance(data.get("SettingsData"), dict) else {},
        assets=data["Assets"] if isinstance(data.get("Assets"), dict) else None,
        created=models.parse_datetime(data.get("Created")),
        modified=models.parse_datetime(data.get("Modified")),
        raw=dict(data),
    )


@pytest.mark.parametrize("data", ODD_ITEMS)
def test_from_api_equals_the_constructor(data: dict[str, Any]) -> None:
    fast, slow = Integration.from_api(data), slow_integration(data)
    assert fast == slow
    assert repr(fast) == repr(slow) and fast.to_dict() == slow.to_dict()
    assert [getattr(fast, f.name) for f in dataclasses.fields(Integration)] == [
        getattr(slow, f.name) for f in dataclasses.fields(Integration)
    ]
    assert fast.raw == data and fast.raw is not data  # from_api copies what the caller handed in
    assert integrations_of_page([dict(data)]) == [slow]


def test_dates_are_parsed_when_read_and_kept() -> None:
    item = Integration.from_api({"Id": "014a", "Created": "2016-12-18 12:47:58", "Modified": "bad"})
    assert "created" not in vars(item)  # nothing parsed yet
    first = item.created
    assert first == pendulum.datetime(2016, 12, 18, 12, 47, 58, tz="UTC")
    assert item.created is first  # parsed once
    assert item.modified is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.created = None  # type: ignore[misc]


def test_copies_and_replacements_keep_the_dates() -> None:
    item = Integration.from_api({"Id": "014a", "Created": "2016-12-18 12:47:58"})
    expected = pendulum.datetime(2016, 12, 18, 12, 47, 58, tz="UTC")
    assert dataclasses.replace(item, id="014b").created == expected
    assert pickle.loads(pickle.dumps(item)).created == expected
    assert copy.deepcopy(item).created == expected
    assert dataclasses.asdict(item)["created"] == expected
    assert Integration(id="1", type="t", status="valid", state="active").created is None


def test_cnames_the_same_way() -> None:
    data = {"Id": "0CN1", "Name": "go.example.com", "AccountId": "001", "Created": "2020-01-02 03:04:05"}
    slow = Cname(
        id="0CN1",
        name="go.example.com",
        account_id="001",
        created=pendulum.datetime(2020, 1, 2, 3, 4, 5, tz="UTC"),
        raw=dict(data),
    )
    assert Cname.from_api(data) == slow and cnames_of_page([dict(data)]) == [slow]
    assert Cname.from_api(data).to_dict() == slow.to_dict()
    assert Cname.from_api({}) == Cname(id="", name="")
