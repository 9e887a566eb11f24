"""The sandbox's CNAME records (``/v2/cname``) and the host-name rules it enforces.

The rules are written here independently of the provider's own check (``require_host_name``) so
that the sandbox can catch a client that sends something the API would refuse: a scheme, a path, a port,
a label with odd characters, a single label, an IP address, or a name already registered (names are
compared without regard to case, as DNS does).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_oktopost.testing._records import IdFactory, format_time

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def host_name_problem(name: str) -> str | None:
    """Why the API would refuse ``name`` as a CNAME host name, or ``None`` when it is acceptable."""
    host = name.lower().removesuffix(".")
    labels = host.split(".")
    if "://" in name or "/" in name or ":" in name or "@" in name or "?" in name:
        return f"Invalid host name {name!r}: give the host only, without scheme, path or port"
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"Invalid host name {name!r}"
    if labels[-1].isdigit():
        return f"Invalid host name {name!r}: an IP address is not a CNAME"
    return None


@dataclass
class CnameRecord:
    """One stored CNAME."""

    id: str
    account_id: str
    name: str
    created: float
    modified: float

    def render(self) -> dict[str, Any]:
        """The API's JSON shape, as in the docs' list example."""
        return {
            "Id": self.id,
            "Created": format_time(self.created),
            "Modified": format_time(self.modified),
            "AccountId": self.account_id,
            "Name": self.name,
        }


class CnameStore:
    """The CNAMEs of every account; shares the state's lock, ids and clock (one reset clears it)."""

    def __init__(self, lock: threading.RLock, ids: IdFactory, now: Callable[[], float], account_id: str):
        self._lock = lock
        self._ids = ids
        self._now = now
        self._default_account = account_id
        self._records: dict[str, CnameRecord] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def add(
        self, name: str, account_id: str | None = None, *, created: float | None = None
    ) -> dict[str, Any]:
        """Store a CNAME directly (no HTTP, no rules checked) and return its record."""
        with self._lock:
            when = self._now() if created is None else created
            record = CnameRecord(self._ids.new("0CN"), account_id or self._default_account, name, when, when)
            self._records[record.id] = record
            return record.render()

    def create(self, name: str, account_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """What ``POST /v2/cname`` does: ``(record, None)``, or ``(None, why it was refused)``."""
        with self._lock:
            problem = host_name_problem(name) or self._taken(name, account_id, None)
            if problem:
                return None, problem
            return self.add(name.lower().removesuffix("."), account_id), None

    def update(self, cname_id: str, name: str, account_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """``POST /v2/cname/{id}``: ``({Id, Name}, None)``, or ``(None, why)``; ``(None, None)`` is a 404."""
        with self._lock:
            record = self._find(cname_id, account_id)
            if record is None:
                return None, None
            problem = host_name_problem(name) or self._taken(name, account_id, cname_id)
            if problem:
                return None, problem
            record.name = name.lower().removesuffix(".")
            record.modified = self._now()
            return {"Id": record.id, "Name": record.name}, None

    def _taken(self, name: str, account_id: str, except_id: str | None) -> str | None:
        host = name.lower().removesuffix(".")
        for record in self._records.values():
            if (
                record.account_id == account_id
                and record.name.lower().removesuffix(".") == host
                and record.id != except_id
            ):
                return f"The CNAME {host} already exists ({record.id})"
        return None

    def _find(self, cname_id: str, account_id: str | None) -> CnameRecord | None:
        record = self._records.get(cname_id)
        if record is None or (account_id is not None and record.account_id != account_id):
            return None
        return record

    def get(self, cname_id: str, account_id: str | None = None) -> dict[str, Any] | None:
        """One record, or ``None`` (also when it belongs to another account)."""
        with self._lock:
            record = self._find(cname_id, account_id)
            return None if record is None else record.render()

    def list(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Records in creation order (then Id), optionally of one account."""
        with self._lock:
            found = [r for r in self._records.values() if account_id is None or r.account_id == account_id]
            found.sort(key=lambda r: (r.created, r.id))
            return [r.render() for r in found]

    def delete(self, cname_id: str, account_id: str | None = None) -> bool:
        """Remove a CNAME; ``False`` when there is none. Integrations on it are not touched here."""
        with self._lock:
            if self._find(cname_id, account_id) is None:
                return False
            del self._records[cname_id]
            return True
