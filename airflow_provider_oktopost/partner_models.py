"""Typed values for the partner (reseller) API: a managed account, a page of them, a new account's fields.

Parsed as leniently as :mod:`.models` (the docs' example mixes ints and strings for the user counts and
shows an unpadded ``LastLogin``); the untouched record is kept in ``raw``. :class:`NewAccount` holds the
owner's initial password, so it is left out of its ``repr`` and of everything this module turns into a dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pendulum import DateTime

from airflow_provider_oktopost._core.timestamps import parse_datetime


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _opt_int(value: object) -> int | None:
    try:
        return None if value is None or value == "" or isinstance(value, bool) else int(str(value))
    except ValueError:
        return None


def _iso(value: DateTime | None) -> str | None:
    return None if value is None else value.in_timezone("UTC").isoformat()


@dataclass(frozen=True)
class PartnerAccount:
    """One Oktopost account a partner manages (``GET /account`` and ``GET /account/{id}`` records)."""

    id: str
    name: str | None = None
    status: str | None = None
    license_id: str | None = None
    external_id: str | None = None
    owner_name: str | None = None
    timezone: str | None = None
    created: DateTime | None = None
    last_login: DateTime | None = None
    credential_count: int | None = None
    campaign_count: int | None = None
    total_users: int | None = None
    active_users: int | None = None
    active_board_users: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> PartnerAccount:
        """Build from one record of the API's ``Items``; unknown or odd values never raise."""
        return cls(
            id=str(data.get("Id") or ""),
            name=_opt_str(data.get("Name")),
            status=_opt_str(data.get("Status")),
            license_id=_opt_str(data.get("LicenseId")),
            external_id=_opt_str(data.get("ExternalID")),
            owner_name=_opt_str(data.get("OwnerName")),
            timezone=_opt_str(data.get("Timezone")),
            created=parse_datetime(data.get("Created")),
            last_login=parse_datetime(data.get("LastLogin")),
            credential_count=_opt_int(data.get("CredentialCount")),
            campaign_count=_opt_int(data.get("CampaignCount")),
            total_users=_opt_int(data.get("TotalUsers")),
            active_users=_opt_int(data.get("ActiveUsers")),
            active_board_users=_opt_int(data.get("ActiveBoardUsers")),
            raw=dict(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the operator's ``account`` XCom); dates as ISO 8601 UTC strings."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "license_id": self.license_id,
            "external_id": self.external_id,
            "owner_name": self.owner_name,
            "timezone": self.timezone,
            "created": _iso(self.created),
            "last_login": _iso(self.last_login),
            "credential_count": self.credential_count,
            "campaign_count": self.campaign_count,
            "total_users": self.total_users,
            "active_users": self.active_users,
            "active_board_users": self.active_board_users,
        }


@dataclass(frozen=True)
class PartnerAccountPage:
    """One page of ``GET /account``."""

    items: list[PartnerAccount]
    total: int
    page: int
    count: int


@dataclass(frozen=True)
class NewAccount:
    """What ``POST /account`` needs. ``password`` (the owner's initial password) is never in ``repr``."""

    company: str
    owner_first_name: str
    owner_last_name: str
    owner_email: str
    license_id: str
    password: str = field(repr=False)
    external_id: str | None = None


__all__ = ["NewAccount", "PartnerAccount", "PartnerAccountPage"]
