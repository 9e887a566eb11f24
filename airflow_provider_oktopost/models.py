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

from airflow_provider_oktopost._core.timestamps import Timestamp, parse_datetime


class IntegrationStatus(StrEnum):
    """Whether the integration's connection works (credentials valid, domain resolves...)."""

    VALID = "valid"
    INVALID = "invalid"


class IntegrationState(StrEnum):
    """Whether the integration is switched on (``active``) or paused (``disabled``)."""

    ACTIVE = "active"
    DISABLED = "disabled"


#: Members by value: a dict lookup costs a fraction of calling the enum class (once per item of a listing).
_MEMBERS: dict[type[Enum], dict[str, Enum]] = {
    enum: {member.value: member for member in enum} for enum in (IntegrationStatus, IntegrationState)
}


_STATUSES = _MEMBERS[IntegrationStatus]
_STATES = _MEMBERS[IntegrationState]


def _enum_or_str(enum: type[IntegrationStatus] | type[IntegrationState], value: object) -> Any:
    """The enum member for a known value, else the raw string: unknown values must not crash parsing."""
    members = _MEMBERS[enum]
    if type(value) is str and value in members:  # the API's own spelling: one lookup
        return members[value]
    text = "" if value is None else str(value)
    return members.get(text.lower(), text)


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


_new_instance = object.__new__
_set_attr = object.__setattr__  # what a frozen dataclass's own __init__ uses


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
    created: Timestamp = Timestamp()  # noqa: RUF009 - a descriptor: text parsed on first read
    modified: Timestamp = Timestamp()  # noqa: RUF009 - a descriptor: text parsed on first read
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
        """Build from an ``Integration`` object or a list item as the API returns it (``raw`` is a copy)."""
        return cls._from_owned(dict(data))

    @classmethod
    def _from_owned(cls, data: dict[str, Any]) -> Integration:
        """:meth:`from_api` for a dict nobody else holds (kept as ``raw`` without a copy).

        A listing calls this once per record, so it fills the frozen instance's ``__dict__`` in one step
        instead of through ``__init__`` (one ``object.__setattr__`` per field) and leaves the dates as text
        for :class:`~.timestamps.Timestamp` to parse when read. The values are those of the lenient rules.
        """
        get = data.get
        id_ = get("Id")
        type_ = get("Type")
        status = get("Status")
        state = get("State")
        account_id = get("AccountId")
        version = get("Version")
        cname_id = get("CnameId")
        settings = get("SettingsData")
        assets = get("Assets")
        # The API's own spellings are one dict lookup; anything else goes through the general rules.
        status_member = _STATUSES.get(status) if type(status) is str else None
        state_member = _STATES.get(state) if type(state) is str else None
        item = _new_instance(cls)
        _set_attr(
            item,
            "__dict__",
            {
                "id": id_ if type(id_) is str else str(id_ or ""),
                "type": type_ if type(type_) is str else str(type_ or ""),
                "status": status_member or _enum_or_str(IntegrationStatus, status),
                "state": state_member or _enum_or_str(IntegrationState, state),
                "account_id": account_id if type(account_id) is str and account_id else _opt_str(account_id),
                "version": version if type(version) is int else None,
                "cname_id": cname_id if type(cname_id) is str and cname_id else _opt_str(cname_id),
                "settings": settings if type(settings) is dict else {},
                "assets": assets if type(assets) is dict else None,
                "_created_text": get("Created"),
                "_modified_text": get("Modified"),
                "raw": data,
            },
        )
        return item

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


def integrations_of_page(items: list[dict[str, Any]]) -> list[Integration]:
    """The records of a list answer just decoded: each dict becomes its integration's ``raw`` as it is (the
    decoded page belongs to the caller alone, so the per-record copy :meth:`Integration.from_api` makes is
    not needed)."""
    build = Integration._from_owned
    return [build(item) for item in items]


def cnames_of_page(items: list[dict[str, Any]]) -> list[Cname]:
    """:func:`integrations_of_page` for CNAMEs."""
    build = Cname._from_owned
    return [build(item) for item in items]


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
    created: Timestamp = Timestamp()  # noqa: RUF009 - a descriptor: text parsed on first read
    modified: Timestamp = Timestamp()  # noqa: RUF009 - a descriptor: text parsed on first read
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Cname:
        """Build from a ``Cname`` object or a list item as the API returns it (as
        :meth:`Integration.from_api` does: fields set directly, dates parsed when read)."""
        return cls._from_owned(dict(data))

    @classmethod
    def _from_owned(cls, data: dict[str, Any]) -> Cname:
        """:meth:`from_api` for a dict nobody else holds (see :meth:`Integration._from_owned`)."""
        get = data.get
        item = _new_instance(cls)
        _set_attr(
            item,
            "__dict__",
            {
                "id": str(get("Id") or ""),
                "name": str(get("Name") or ""),
                "account_id": _opt_str(get("AccountId")),
                "_created_text": get("Created"),
                "_modified_text": get("Modified"),
                "raw": data,
            },
        )
        return item

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
