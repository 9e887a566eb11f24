"""``OktopostPartnerHook``: Oktopost's partner (reseller) API from a worker.

A partner manages many customer accounts: it lists them, reads one, finds one by the external id it gave
it, and provisions new ones (``POST /account`` on ``https://reseller.oktopost.com``, no ``/v2``). The hook
reads an ``oktopost_partner`` connection (the partner's Account ID and API key), then hands every call to
the shared core (:mod:`airflow_provider_oktopost._core.partner_ops`, on the same call, retry, budget and
error rules as :class:`~airflow_provider_oktopost.hooks.oktopost.OktopostHook`). Each customer account's own
work (CNAMEs, integrations) goes through an ``oktopost`` connection holding that account's key.

Assumptions where Oktopost's page is silent (also in ``docs/partners.md``): Basic auth with the partner's
Account ID and key; the create answer is the get envelope (``Items``) or an ``Account`` object; the list
pages with ``_page``/``_count``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_oktopost._core import operations as ops
from airflow_provider_oktopost._core import partner_ops
from airflow_provider_oktopost._core.config import PARTNER_API, PARTNER_URL
from airflow_provider_oktopost.exceptions import OktopostError
from airflow_provider_oktopost.hooks._base import OktopostBaseHook, legacy_field_behaviour, timeout_widget
from airflow_provider_oktopost.partner_models import NewAccount, PartnerAccount, PartnerAccountPage


class OktopostPartnerHook(OktopostBaseHook):
    """Talks to Oktopost's partner API with an ``oktopost_partner`` connection.

    The connection holds the partner's Account ID (Login) and API key (Password), optionally a Base URL
    (Host, default ``https://reseller.oktopost.com``), and the same extras as ``oktopost``: ``timeout``,
    ``max_retries``, ``rate_limit_per_minute``, ``proxy``, ``verify`` and the budget settings: it is read
    and checked by the same code as an ``oktopost`` connection, only the default host differs. ``config``,
    ``get_conn()`` and ``close()`` come from the private base class both Oktopost hooks share.

    :param oktopost_conn_id: The Airflow connection to use (default ``oktopost_partner_default``).
    :param timeout: Seconds to wait for each response; overrides the connection's ``timeout`` extra.
    :param max_retries: Retries of transient failures; overrides the connection's ``max_retries`` extra.
    """

    default_conn_name = "oktopost_partner_default"
    conn_type = "oktopost_partner"
    hook_name = "Oktopost Partner"
    api_root = PARTNER_API

    # ---- API --------------------------------------------------------------------------------------------

    def list_accounts(self, query: str | None = None, page: int = 0, count: int = 100) -> PartnerAccountPage:
        """One page of the partner's accounts (``page`` zero-based, ``count`` 25, 50 or 100)."""
        return self._run(partner_ops.list_account_page(self._context, query, page, count))

    def iter_accounts(self, query: str | None = None) -> Iterator[PartnerAccount]:
        """Every account the partner manages (optionally matching the ``query`` search), 100 at a time."""
        cursor: ops.PageCursor[PartnerAccount] = ops.PageCursor()
        while cursor.page is not None:
            yield from cursor.advance(self.list_accounts(query, cursor.page, ops.FULL_PAGE))

    def get_account(self, account_id: str) -> PartnerAccount:
        """One account by its Id (``001...``)."""
        return self._run(partner_ops.get_account(self._context, account_id))

    def find_account_by_external_id(self, external_id: str) -> PartnerAccount | None:
        """The account with this external id (exact match over every account), or ``None``."""
        return self._run(partner_ops.find_by_external_id(self._context, external_id))

    def create_account(self, new: NewAccount) -> PartnerAccount:
        """Provision an account. With ``new.external_id`` set, exactly once: an account that already has it
        is returned instead, and a lost answer is resolved by looking for it (:meth:`ensure_account`)."""
        _mask_password(new.password)
        return self._run(partner_ops.create_account(self._context, new), new.password)

    def ensure_account(self, new: NewAccount) -> tuple[PartnerAccount, bool]:
        """The account for ``new.external_id`` (required), created exactly once; ``(account, created)``."""
        _mask_password(new.password)
        return self._run(partner_ops.ensure_account(self._context, new), new.password)

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection with one ``GET /account`` page (the Test button in the connection form)."""
        try:
            page = self.list_accounts(count=25)
        except (OktopostError, ValueError) as error:
            return False, str(error)
        return True, (
            f"Connected to the Oktopost partner API as {self.config.account_id}: "
            f"{page.total} managed account(s)"
        )

    # ---- connection form (Airflow 3.0 / 3.1; 3.2+ reads get_provider_info instead) -----------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the standard fields for the partner API and hide the ones it does not use."""
        from airflow_provider_oktopost.get_provider_info import PARTNER_UI_FIELD_BEHAVIOUR

        return legacy_field_behaviour(PARTNER_UI_FIELD_BEHAVIOUR)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The timeout field (plain text, as Airflow 3.0/3.1 require; see ``OktopostHook``)."""
        return {"timeout": timeout_widget()}


def _mask_password(password: str) -> None:
    """Register the owner's password with Airflow's secrets masker (task logs print ``***`` for it)."""
    from airflow.providers.common.compat.sdk import mask_secret

    if password:
        mask_secret(password)


def new_account(
    *,
    company: str,
    owner_first_name: str,
    owner_last_name: str,
    owner_email: str,
    owner_password: str,
    license_id: str,
    external_id: str | None = None,
) -> NewAccount:
    """A :class:`~airflow_provider_oktopost.partner_models.NewAccount` by keyword (the operator's names)."""
    return NewAccount(
        company=company,
        owner_first_name=owner_first_name,
        owner_last_name=owner_last_name,
        owner_email=owner_email,
        license_id=license_id,
        password=owner_password,
        external_id=external_id,
    )


__all__ = ["PARTNER_URL", "OktopostPartnerHook", "new_account"]
