"""The sandbox's partner (reseller) accounts: the records behind ``/account``.

The routes are in :mod:`airflow_provider_oktopost.testing._partner`.

Oktopost serves these on ``https://reseller.oktopost.com`` without ``/v2``; the sandbox serves them at its
root (``http://127.0.0.1:<port>/account``), behind the same gate as ``/v2`` (faults, Basic auth, the rate
limit of the calling key, the request log). Only accounts registered as partners may call them (others get
403); a partner sees only the accounts it created.

The documented rules are enforced: every create field is required (``firstName``, ``lastName``,
``company``, ``email``, ``password``, ``licenseId``), and an external id (``eid``), once set, is unique.
What the public page does not show is assumed, as the provider assumes it: the create answer is the get
envelope (``Items`` with the new account), or, with ``create_answer="account"``, an ``Account`` object.
The owner's password is checked for presence and then dropped: the store never keeps it, and the gate
masks it in the request log.

A test that needs the new account to have an API key (the customer's own Airflow connection) plans it
with :meth:`PartnerStore.plan`: the create for that external id then gets the planned Id, and the key is
accepted for it, as if the partner had fetched the key from Oktopost's UI after the account was made.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airflow_provider_oktopost.testing._records import IdFactory, format_time

#: The fields ``POST /account`` requires, in the order the docs list them.
REQUIRED_FIELDS = ("firstName", "lastName", "company", "email", "password", "licenseId")
#: Form fields the request log never shows.
SECRET_FIELDS = frozenset({"password"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

CreateAnswer = Literal["items", "account"]


@dataclass
class ManagedAccount:
    """One customer account a partner manages (no password: the sandbox never keeps it)."""

    id: str
    partner_id: str
    company: str
    owner_name: str
    owner_email: str
    license_id: str
    external_id: str | None
    created: float
    timezone: str = "America/New_York"

    def render(self) -> dict[str, Any]:
        """The record as list and get show it (the field types follow the docs' example)."""
        return {
            "Id": self.id,
            "Name": self.company,
            "Created": format_time(self.created),
            "Status": "active",
            "LicenseId": self.license_id,
            "LastLogin": "0000-00-00 00:00:00",
            "Timezone": self.timezone,
            "CredentialCount": 0,
            "CampaignCount": 0,
            "OwnerName": self.owner_name,
            "TotalUsers": 1,
            "ActiveUsers": "1",
            "ActiveBoardUsers": "0",
            "ExternalID": self.external_id,
        }


class PartnerStore:
    """The managed accounts of every partner; shares the state's lock, ids and clock (a reset clears it)."""

    def __init__(
        self,
        lock: threading.RLock,
        ids: IdFactory,
        now: Callable[[], float],
        add_key: Callable[[str, str], None],
    ) -> None:
        self._lock = lock
        self._ids = ids
        self._now = now
        self._add_key = add_key
        self._accounts: dict[str, ManagedAccount] = {}
        self._planned: dict[str, tuple[str, str | None]] = {}
        #: How ``POST /account`` answers: ``items`` (the get envelope) or ``account`` (an ``Account`` key).
        self.create_answer: CreateAnswer = "items"

    def __len__(self) -> int:
        with self._lock:
            return len(self._accounts)

    def plan(self, external_id: str, account_id: str, api_key: str | None = None) -> None:
        """The account created for ``external_id`` gets Id ``account_id`` and accepts ``api_key``."""
        with self._lock:
            self._planned[external_id] = (account_id, api_key)

    def create(self, partner_id: str, form: Mapping[str, str]) -> dict[str, Any] | str:
        """What ``POST /account`` does: the new record, or the reason it is refused."""
        with self._lock:
            for name in REQUIRED_FIELDS:
                if not form.get(name, "").strip():
                    return f"Missing value for parameter {name}"
            if not _EMAIL.fullmatch(form["email"]):
                return f"Invalid value for parameter email: {form['email']}"
            eid = form.get("eid") or None
            if eid is not None and any(a.external_id == eid for a in self._accounts.values()):
                return f"External ID {eid} is already in use"
            account_id, api_key = self._planned.pop(eid, (None, None)) if eid else (None, None)
            record = ManagedAccount(
                id=account_id or self._ids.new("001"),
                partner_id=partner_id,
                company=form["company"],
                owner_name=f"{form['firstName']} {form['lastName']}",
                owner_email=form["email"],
                license_id=form["licenseId"],
                external_id=eid,
                created=self._now(),
            )
            self._accounts[record.id] = record
            if api_key:
                self._add_key(record.id, api_key)
            return record.render()

    def add(
        self,
        partner_id: str,
        company: str,
        *,
        external_id: str | None = None,
        account_id: str | None = None,
        license_id: str = "017_SUB_SANDBOX_V7",
    ) -> dict[str, Any]:
        """Store an account directly (no HTTP, no log)."""
        form = {
            "firstName": "Sandbox",
            "lastName": "Owner",
            "company": company,
            "email": "owner@example.com",
            "password": "x",
            "licenseId": license_id,
        }
        if external_id:
            form["eid"] = external_id
        if account_id and external_id:
            self.plan(external_id, account_id)
        with self._lock:
            result = self.create(partner_id, form)
        if isinstance(result, str):
            raise ValueError(result)
        return result

    def list(self, partner_id: str | None = None, query: str | None = None) -> list[dict[str, Any]]:
        """Records in creation order; ``query`` matches name, owner, e-mail or external id (any case)."""
        needle = (query or "").strip().lower()
        with self._lock:
            items = sorted(self._accounts.values(), key=lambda a: (a.created, a.id))
            return [
                a.render()
                for a in items
                if (partner_id is None or a.partner_id == partner_id)
                and (
                    not needle
                    or any(needle in (v or "").lower() for v in (a.company, a.owner_name, a.owner_email))
                    or needle == (a.external_id or "").lower()
                )
            ]

    def get(self, account_id: str, partner_id: str | None = None) -> dict[str, Any] | None:
        """One record, or ``None`` (also when another partner manages it)."""
        with self._lock:
            item = self._accounts.get(account_id)
            if item is None or (partner_id is not None and item.partner_id != partner_id):
                return None
            return item.render()


__all__ = ["REQUIRED_FIELDS", "SECRET_FIELDS", "ManagedAccount", "PartnerStore"]
