"""What the partner tests share: a customer's account fields, with a password nobody may ever see."""

from __future__ import annotations

from typing import Any

from airflow_provider_oktopost.hooks.partner import new_account
from airflow_provider_oktopost.partner_models import NewAccount

#: The owner's initial password in every test: searched for in every output.
PASSWORD = "Owner-Pa55word-never-shown"
ACCOUNT_PATH = r"/account(/.*)?"


def fields(external_id: str | None = "crm-0001", **changes: Any) -> dict[str, Any]:
    """The operator's / ``new_account``'s keyword arguments for one customer."""
    values: dict[str, Any] = {
        "external_id": external_id,
        "company": "Acme Inc",
        "owner_first_name": "Ada",
        "owner_last_name": "Lovelace",
        "owner_email": "ada@acme.example",
        "owner_password": PASSWORD,
        "license_id": "017_SUB_ACME_V7",
    }
    values.update(changes)
    return values


def customer(external_id: str | None = "crm-0001", **changes: Any) -> NewAccount:
    """A :class:`NewAccount` for one customer."""
    return new_account(**fields(external_id, **changes))
