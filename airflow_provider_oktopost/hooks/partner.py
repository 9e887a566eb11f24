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
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_oktopost._core import operations as ops
from airflow_provider_oktopost._core import partner_ops
from airflow_provider_oktopost._core.config import ClientConfig, normalize_extras
from airflow_provider_oktopost._core.driver import run_sync
from airflow_provider_oktopost._core.operations import Op
from airflow_provider_oktopost._core.partner_config import PARTNER_URL, partner_config_from_fields
from airflow_provider_oktopost.exceptions import OktopostError
from airflow_provider_oktopost.partner_models import NewAccount, PartnerAccount, PartnerAccountPage

if TYPE_CHECKING:
    from airflow_provider_oktopost._core.transports import RequestsTransport

T = TypeVar("T")


class OktopostPartnerHook(BaseHook):
    """Talks to Oktopost's partner API with an ``oktopost_partner`` connection.

    The connection holds the partner's Account ID (Login) and API key (Password), optionally a Base URL
    (Host, default ``https://reseller.oktopost.com``), and the same extras as ``oktopost``: ``timeout``,
    ``max_retries``, ``rate_limit_per_minute``, ``proxy``, ``verify`` and the budget settings.

    :param oktopost_conn_id: The Airflow connection to use.
    :param timeout: Seconds to wait for each response; overrides the connection's ``timeout`` extra.
    :param max_retries: Retries of transient failures; overrides the connection's ``max_retries`` extra.
    """

    conn_name_attr = "oktopost_conn_id"
    default_conn_name = "oktopost_partner_default"
    conn_type = "oktopost_partner"
    hook_name = "Oktopost Partner"

    def __init__(
        self,
        oktopost_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__()
        self.oktopost_conn_id = oktopost_conn_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._transport: RequestsTransport | None = None
        self._extra_secrets: tuple[str, ...] = ()

    @cached_property
    def config(self) -> ClientConfig:
        """The checked connection settings; the API key is registered with Airflow's secrets masker."""
        from airflow_provider_oktopost.hooks.oktopost import _mask

        conn = self.get_connection(self.oktopost_conn_id)
        config = partner_config_from_fields(
            self.oktopost_conn_id,
            login=conn.login,
            password=conn.password,
            host=conn.host,
            extra=normalize_extras(conn.extra_dejson),
            timeout=self._timeout,
            max_retries=self._max_retries,
        )
        _mask(config)
        return config

    def _get_transport(self) -> RequestsTransport:
        if self._transport is None:
            from airflow_provider_oktopost._core.transports import RequestsTransport

            self._transport = RequestsTransport(self.config)
        return self._transport

    @cached_property
    def _context(self) -> ops.Context:
        return ops.Context.for_config(self.config)

    def _run(self, op: Op[T], *secrets: str) -> T:
        return run_sync(op, self._get_transport(), (*self.config.secrets, *secrets))

    def get_conn(self) -> Any:
        """The ``requests.Session`` this hook reuses for every call (keep-alive)."""
        return self._get_transport().session

    def close(self) -> None:
        """Close the HTTP session."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

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

        return {
            "hidden_fields": list(PARTNER_UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(PARTNER_UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(PARTNER_UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The timeout field (plain text, as Airflow 3.0/3.1 require; see ``OktopostHook``)."""
        from flask_babel import lazy_gettext
        from wtforms import StringField
        from wtforms.validators import Optional

        return {"timeout": StringField(lazy_gettext("Timeout (seconds)"), validators=[Optional()])}


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
