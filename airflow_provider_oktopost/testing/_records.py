"""Integration records and the formats the Oktopost API uses for them.

Kept apart from :mod:`~airflow_provider_oktopost.testing.state` so the lock-holding state class stays
readable: what lives here is plain data and pure functions, with no locking of their own.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DEFAULT_CNAME_ID = "0CNsandbox00001"
API_STATES = ("active", "disabled")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_ID_ALPHABET = string.ascii_lowercase + string.digits


def format_time(timestamp: float) -> str:
    """Oktopost's timestamp format: naive ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime(TIME_FORMAT)


def parse_setting(value: str) -> Any:
    """Keep a form value as a string unless it is a JSON object or array (how clients send structures)."""
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def user_id_for(account_id: str) -> str:
    """A stable ``00A…`` user id for ``/v2/me``."""
    return "00A" + hashlib.sha256(account_id.encode()).hexdigest()[:12]


class IdFactory:
    """Real-looking ids (``014`` + 12 lowercase alphanumerics) that are never handed out twice.

    Ids stay unique across resets on purpose: a client holding an id from before a reset must get a 404,
    never somebody else's new integration.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._issued: set[str] = set()

    def new(self, prefix: str = "014") -> str:
        """A fresh id with ``prefix``."""
        while True:
            candidate = prefix + "".join(self._rng.choices(_ID_ALPHABET, k=15 - len(prefix)))
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate


@dataclass
class IntegrationRecord:
    """One stored integration; ``Status`` is not stored but computed on every read (see ``render``)."""

    id: str
    account_id: str
    type: str
    cname_id: str | None
    settings: dict[str, Any]
    created: float
    modified: float
    state: str
    version: int = 1
    forced_status: str | None = None

    def status(self, now: float, validation_delay: float) -> str:
        """``invalid`` until ``validation_delay`` seconds after creation, unless a status was forced."""
        if self.forced_status is not None:
            return self.forced_status
        return "valid" if now >= self.created + validation_delay else "invalid"

    def render(self, now: float, validation_delay: float, with_assets: bool = False) -> dict[str, Any]:
        """The API's JSON shape (key order as in the docs); a deep copy, safe to hand out."""
        record: dict[str, Any] = {
            "Id": self.id,
            "Created": format_time(self.created),
            "Modified": format_time(self.modified),
            "Status": self.status(now, validation_delay),
            "State": self.state,
            "AccountId": self.account_id,
            "Type": self.type,
            "Version": self.version,
            "CnameId": self.cname_id,
            "SettingsData": json.loads(json.dumps(self.settings)),
        }
        if with_assets:
            record["Assets"] = self.assets()
        return record

    def assets(self) -> dict[str, Any]:
        """Linked social credential and board, derived from the id so they are stable across reads."""
        digest = hashlib.sha256(self.id.encode()).hexdigest()
        network_id = str(int(digest[:12], 16))[:10]
        credential = {
            "Id": f"003-{self.account_id}-{network_id}",
            "Name": "Sandbox User's LinkedIn",
            "DisplayName": "Sandbox User",
            "Status": "valid",
            "Network": "LinkedIn",
        }
        board = {"Id": "brd" + digest[12:24], "Name": "Sandbox Board", "Status": "active"}
        return {"Credentials": [credential], "Boards": [board]}
