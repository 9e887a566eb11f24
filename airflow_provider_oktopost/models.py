"""Typed values for what the Oktopost Integrations API returns.

The API answers loosely: dates as ``"YYYY-MM-DD HH:MM:SS"`` strings (sometimes unpadded,
``0000-00-00 00:00:00`` for "unset", the docs even claim epoch seconds), statuses the docs do not list,
integration types beyond the six documented ones. Parsing here is lenient on purpose, so a surprising value
from the server never crashes a DAG; the untouched response is always kept in ``raw``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

import pendulum
from pendulum import DateTime


class IntegrationStatus(StrEnum):
    """Whether the integration's connection works (credentials valid, domain resolves...)."""

    VALID = "valid"
    INVALID = "invalid"


class IntegrationState(StrEnum):
    """Whether the integration is switched on (``active``) or paused (``disabled``)."""

    ACTIVE = "active"
    DISABLED = "disabled"


_DATE_RE = re.compile(r"^\s*(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?")


def parse_datetime(value: object) -> DateTime | None:
    """Parse an Oktopost timestamp as UTC; ``None`` for unset, empty or unparseable values.

    Accepts ``"YYYY-MM-DD HH:MM:SS"`` (padded or not, with ``T`` or a space), a bare date and epoch seconds.
    """
    if type(value) is str and len(value) == 19 and value[4] == "-" and value[10] == " " and value[13] == ":":
        # The shape the API sends for every timestamp: sliced, no regex and no other type checks. A listing
        # parses two per item, so this is most of the hook's own CPU per integration.
        try:
            year = int(value[0:4])
            if year > 0:
                return DateTime(
                    year,
                    int(value[5:7]),
                    int(value[8:10]),
                    int(value[11:13]),
                    int(value[14:16]),
                    int(value[17:19]),
                    tzinfo=pendulum.UTC,
                )
        except ValueError:
            pass  # not digits, or not a real date: the general path below decides
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return pendulum.from_timestamp(float(value), tz="UTC") if value > 0 else None
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    match = _DATE_RE.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if year == 0:
        return None
    try:
        # The class itself, not pendulum.datetime(): ten times cheaper, and a listing parses two per item.
        return DateTime(year, month, day, hour, minute, second, tzinfo=pendulum.UTC)
    except ValueError:
        return None


#: Members by value: a dict lookup costs a fraction of calling the enum class (once per item of a listing).
_MEMBERS: dict[type[Enum], dict[str, Enum]] = {
    enum: {member.value: member for member in enum} for enum in (IntegrationStatus, IntegrationState)
}


def _enum_or_str(enum: type[IntegrationStatus] | type[IntegrationState], value: object) -> Any:
    """The enum member for a known value, else the raw string: unknown values must not crash parsing."""
    text = "" if value is None else str(value)
    return _MEMBERS[enum].get(text.lower(), text)


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


@dataclass(frozen=True)
class Integration:
    """One Oktopost integration.

    ``status`` and ``state`` are :class:`IntegrationStatus` / :class:`IntegrationState` members when the
    server sends a documented value, otherwise the raw string. ``type`` is a plain string: real accounts
    have types beyond the six the docs list.
    """

    id: str
    type: str
    status: IntegrationStatus | str
    state: IntegrationState | str
    account_id: str | None = None
    version: int | None = None
    cname_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    assets: dict[str, Any] | None = None
    created: DateTime | None = None
    modified: DateTime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_ready(self) -> bool:
        """True when the integration is usable: its connection is valid and it is active."""
        return self.status == IntegrationStatus.VALID and self.state == IntegrationState.ACTIVE

    def matches(self, status: str | None = None, state: str | None = None) -> bool:
        """True when the integration has the given status and state (``None`` matches anything)."""
        return (status is None or _value(self.status) == status) and (
            state is None or _value(self.state) == state
        )

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Integration:
        """Build from an ``Integration`` object or a list item as the API returns it."""
        version = data.get("Version")
        settings = data.get("SettingsData")
        assets = data.get("Assets")
        return cls(
            id=str(data.get("Id") or ""),
            type=str(data.get("Type") or ""),
            status=_enum_or_str(IntegrationStatus, data.get("Status")),
            state=_enum_or_str(IntegrationState, data.get("State")),
            account_id=_opt_str(data.get("AccountId")),
            version=version if isinstance(version, int) and not isinstance(version, bool) else None,
            cname_id=_opt_str(data.get("CnameId")),
            settings=settings if isinstance(settings, dict) else {},
            assets=assets if isinstance(assets, dict) else None,
            created=parse_datetime(data.get("Created")),
            modified=parse_datetime(data.get("Modified")),
            raw=dict(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (for XCom and trigger events); dates as ISO 8601 UTC strings.

        ``settings`` and ``assets`` can hold third-party credentials (a CRM password, an OAuth token), and
        this dict goes to XCom, trigger events and logs: values under keys that look secret
        (:data:`SECRET_KEY_PATTERN`) are replaced by :data:`MASK`, at any depth. The object itself (what
        the hook returns) keeps them, for code that needs them.
        """
        return {
            "id": self.id,
            "type": self.type,
            "status": _value(self.status),
            "state": _value(self.state),
            "account_id": self.account_id,
            "version": self.version,
            "cname_id": self.cname_id,
            "settings": mask_secret_values(self.settings),
            "assets": None if self.assets is None else mask_secret_values(self.assets),
            "created": self.created.isoformat() if self.created else None,
            "modified": self.modified.isoformat() if self.modified else None,
            "is_ready": self.is_ready,
        }


#: Keys whose values :meth:`Integration.to_dict` masks (case-insensitive, anywhere in the key).
SECRET_KEY_PATTERN = re.compile(
    r"pass(word|wd)?|secret|token|api[-_]?key|private[-_]?key|credential|auth|signature|cookie",
    re.IGNORECASE,
)
#: What a masked value becomes.
MASK = "***"


def mask_secret_values(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with the values of secret-looking keys replaced by :data:`MASK`, at any depth."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: MASK if SECRET_KEY_PATTERN.search(str(key)) and item not in (None, "") else walk(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    masked: dict[str, Any] = walk(data)
    return masked


def _value(member: Enum | str) -> str:
    return str(member.value) if isinstance(member, Enum) else member


@dataclass(frozen=True)
class IntegrationPage:
    """One page of ``GET /v2/integration``: the items and the server's count of all matching rows."""

    items: list[Integration]
    total: int
    page: int
    count: int


@dataclass(frozen=True)
class Me:
    """The result of ``GET /v2/me``: the key's user and account."""

    user_id: str | None
    user_name: str | None
    user_email: str | None
    account_id: str | None
    account_name: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Me:
        """Build from the body of ``GET /me``; missing fields become empty strings."""
        user = data.get("User") if isinstance(data.get("User"), dict) else {}
        account = data.get("Account") if isinstance(data.get("Account"), dict) else {}
        assert isinstance(user, dict) and isinstance(account, dict)  # narrowed above; for mypy
        return cls(
            user_id=_opt_str(user.get("Id")),
            user_name=_opt_str(user.get("Name")),
            user_email=_opt_str(user.get("Email")),
            account_id=_opt_str(account.get("Id")),
            account_name=_opt_str(account.get("Name")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Cname:
    """One CNAME record registered in Oktopost: a host name (``Name``) that points to ``okt.to``.

    Integrations refer to it by ``id`` (``0CN...``) as their ``cname_id``. An update answers with only
    ``Id`` and ``Name``, so the other fields may be ``None``.
    """

    id: str
    name: str
    account_id: str | None = None
    created: DateTime | None = None
    modified: DateTime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Cname:
        """Build from a ``Cname`` object or a list item as the API returns it."""
        return cls(
            id=str(data.get("Id") or ""),
            name=str(data.get("Name") or ""),
            account_id=_opt_str(data.get("AccountId")),
            created=parse_datetime(data.get("Created")),
            modified=parse_datetime(data.get("Modified")),
            raw=dict(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (for XCom); dates as ISO 8601 UTC strings."""
        return {
            "id": self.id,
            "name": self.name,
            "account_id": self.account_id,
            "created": self.created.isoformat() if self.created else None,
            "modified": self.modified.isoformat() if self.modified else None,
        }


@dataclass(frozen=True)
class CnamePage:
    """One page of ``GET /v2/cname``: the items and the server's count of all CNAMEs."""

    items: list[Cname]
    total: int
    page: int
    count: int


@dataclass(frozen=True)
class ActionResult:
    """What ``POST /v2/integration-action`` returned for one action.

    ``data`` is the ``IntegrationAction`` value as sent by Oktopost. It may hold personal data from the
    customer's CRM (names, e-mail addresses), so it is left out of ``repr`` and :meth:`summary` describes
    its shape without any of its values: that is what may be logged.
    """

    integration_id: str
    action_name: str
    data: Any = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """The shape of the result, never its values: top-level field names and how many records."""
        data = self.data
        records: int | None = None
        fields: list[str] = []
        if isinstance(data, dict):
            fields = sorted(str(key) for key in data)
            items = next((v for v in data.values() if isinstance(v, list)), None)
            records = len(items) if items is not None else (1 if data else 0)
        elif isinstance(data, list):
            records = len(data)
        elif data not in (None, False, ""):
            records = 1
        return {
            "integration_id": self.integration_id,
            "action_name": self.action_name,
            "result_type": type(data).__name__,
            "fields": fields,
            "records": records if records is not None else 0,
        }

    def to_dict(self) -> dict[str, Any]:
        """The summary plus the whole result under ``data`` (only for XCom when asked for)."""
        return {**self.summary(), "data": self.data}


def target_text(status: str | None, state: str | None) -> str:
    """What a wait is waiting for, for messages: ``status=valid, state=active`` (``any`` for ``None``)."""
    return f"status={status or 'any'}, state={state or 'any'}"


__all__ = [
    "MASK",
    "SECRET_KEY_PATTERN",
    "ActionResult",
    "Cname",
    "CnamePage",
    "Integration",
    "IntegrationPage",
    "IntegrationState",
    "IntegrationStatus",
    "Me",
    "mask_secret_values",
    "parse_datetime",
    "target_text",
]
