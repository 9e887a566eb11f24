"""Requests of the partner (reseller) API: ``/account`` on ``https://reseller.oktopost.com``, no ``/v2``.

The same :class:`~.wire.ApiRequest` values as the ``/v2`` builders in :mod:`.wire` (so :mod:`.interpret`,
:mod:`.operations` and the transports handle them unchanged), with ``prefix=""`` so that messages name the
path as it is. Arguments are checked before anything is sent, with a ``ValueError`` naming the parameter
(and never showing the password).

Assumed where the public page is silent (stated in ``docs/partners.md``): the list pages with ``_page``
and ``_count`` like every ``/v2`` listing; the create is form-encoded like every other write.
"""

from __future__ import annotations

import re

from airflow_provider_oktopost._core.wire import ApiRequest, require_id, require_page
from airflow_provider_oktopost.partner_models import NewAccount

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: The longest external id accepted (Oktopost documents none; a bound keeps a typo'd template short).
MAX_EXTERNAL_ID = 255


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def require_text(name: str, value: object, *, max_length: int = 255) -> str:
    """A required, non-blank single-line string; returned stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} is required: a non-empty string, got {_shown(value)}")
    text = value.strip()
    if len(text) > max_length or _CONTROL_RE.search(text):
        raise ValueError(f"{name} must be one line of at most {max_length} characters, got {_shown(value)}")
    return text


def require_external_id(name: str, value: object) -> str:
    """The partner's external id for an account: what makes a create exactly-once."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"{name} is required: it is how a second run, a retry or a lost answer finds the account "
            f"instead of creating another one (Oktopost keeps it unique); got {_shown(value)}"
        )
    return require_text(name, value, max_length=MAX_EXTERNAL_ID)


def require_password(name: str, value: object) -> str:
    """The owner's initial password: required; never shown in the message."""
    if not isinstance(value, str) or not value:
        kind = "an empty string" if isinstance(value, str) else type(value).__name__
        raise ValueError(f"{name} is required: the account owner's initial password (got {kind})")
    return value


def checked_new_account(account: NewAccount) -> NewAccount:
    """``account`` with every field checked (and text stripped); a ``ValueError`` names the first bad one."""
    email = require_text("owner_email", account.owner_email)
    if not _EMAIL_RE.fullmatch(email):
        raise ValueError(f"owner_email must be an e-mail address such as 'owner@example.com', got {email!r}")
    return NewAccount(
        company=require_text("company", account.company),
        owner_first_name=require_text("owner_first_name", account.owner_first_name),
        owner_last_name=require_text("owner_last_name", account.owner_last_name),
        owner_email=email,
        license_id=require_text("license_id", account.license_id),
        password=require_password("owner_password", account.password),
        external_id=(
            None if account.external_id is None else require_external_id("external_id", account.external_id)
        ),
    )


def account_list_request(query: str | None = None, page: int = 0, count: int = 100) -> ApiRequest:
    """``GET /account``: one page of the partner's accounts, optionally filtered by search text."""
    page, count = require_page(page, count)
    params: list[tuple[str, str]] = []
    if query is not None:
        params.append(("query", require_text("query", query)))
    params += [("_page", str(page)), ("_count", str(count))]
    return ApiRequest("GET", "/account", params=tuple(params), prefix="")


def account_get_request(account_id: str) -> ApiRequest:
    """``GET /account/{id}``."""
    return ApiRequest("GET", f"/account/{require_id('account_id', account_id)}", prefix="")


def account_create_request(account: NewAccount) -> ApiRequest:
    """``POST /account``: not idempotent (after a lost answer the account is looked for by external id)."""
    account = checked_new_account(account)
    form = [
        ("firstName", account.owner_first_name),
        ("lastName", account.owner_last_name),
        ("company", account.company),
        ("email", account.owner_email),
        ("password", account.password),
        ("licenseId", account.license_id),
    ]
    if account.external_id is not None:
        form.append(("eid", account.external_id))
    return ApiRequest("POST", "/account", form=tuple(form), idempotent=False, prefix="")


__all__ = [
    "account_create_request",
    "account_get_request",
    "account_list_request",
    "checked_new_account",
    "require_external_id",
    "require_password",
    "require_text",
]
