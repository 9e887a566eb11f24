"""``OktopostHook``: the Oktopost Integrations API from a worker.

The hook reads the Airflow connection, then hands every call to the shared private core
(``_core.operations``) over a ``requests`` session; the connection plumbing it shares with the partner hook
lives in the private ``hooks._base``. It makes no request when it is built, so creating one in a DAG file
costs nothing; the connection is looked up on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from airflow_provider_oktopost._core import action_ops, cname_ops
from airflow_provider_oktopost._core import operations as ops
from airflow_provider_oktopost._core.validation import HOOK_PARAMS, check_hook_params
from airflow_provider_oktopost.exceptions import OktopostError
from airflow_provider_oktopost.hooks._base import OktopostBaseHook, legacy_field_behaviour, timeout_widget
from airflow_provider_oktopost.models import ActionResult, Cname, CnamePage, Integration, IntegrationPage, Me


class OktopostHook(OktopostBaseHook):
    """Talks to the Oktopost Integrations API with an ``oktopost`` connection.

    The connection holds the Account ID (Login), the API key (Password), the data center (extra ``region``:
    ``us`` or ``eu``) or a full Base URL (Host) for a proxy or the sandbox, and optional extras ``timeout``
    (seconds), ``max_retries`` and ``rate_limit_per_minute``.

    ``config`` (the checked settings), ``get_conn()`` (the ``requests.Session``) and ``close()`` come from
    the private base class both Oktopost hooks share.

    :param oktopost_conn_id: The Airflow connection to use (default ``oktopost_default``).
    :param timeout: Seconds to wait for each response; overrides the connection's ``timeout`` extra.
    :param max_retries: Retries of transient failures; overrides the connection's ``max_retries`` extra.
    """

    default_conn_name = "oktopost_default"
    conn_type = "oktopost"
    hook_name = "Oktopost"

    @contextmanager
    def witnessed_by(self, witness: ops.Witness) -> Iterator[None]:
        """Calls made inside tell ``witness`` right before each request leaves and how it was answered.

        The operators keep their evidence across task tries this way (see
        :mod:`airflow_provider_oktopost.operators._evidence`).
        """
        plain = self._context
        self._context = replace(plain, witness=witness)
        try:
            yield
        finally:
            self._context = plain

    # ---- API --------------------------------------------------------------------------------------------

    def get_me(self) -> Me:
        """The key's user and account (``GET /v2/me``)."""
        return self._run(ops.get_me(self._context))

    def list_integrations(self, type: str | None = None, page: int = 0, count: int = 25) -> IntegrationPage:
        """One page of integrations: ``page`` is zero-based, ``count`` is 25, 50 or 100."""
        return self._run(ops.list_page(self._context, type, page, count))

    def iter_integrations(self, type: str | None = None) -> Iterator[Integration]:
        """Every integration (optionally of one ``type``), fetched lazily 100 at a time.

        Paging stops at ``Total``, on a short or empty page, and never goes past the pages the largest
        ``Total`` seen allows; an integration that shifts between pages is yielded once.
        """
        cursor: ops.PageCursor[Integration] = ops.PageCursor()
        while cursor.page is not None:
            yield from cursor.advance(self.list_integrations(type, cursor.page, ops.FULL_PAGE))

    def get_integration(self, integration_id: str, with_assets: bool = False) -> Integration:
        """One integration; ``with_assets=True`` adds its social credentials and boards."""
        return self._run(ops.get_integration(self._context, integration_id, with_assets))

    def find_integrations(
        self, type: str, cname_id: str, *, shared_listing: bool = False
    ) -> list[Integration]:
        """The integrations of ``type`` on the CNAME ``cname_id`` (normally zero or one).

        With ``shared_listing=True`` a listing of ``type`` that a process of the deployment took within
        ``listing_ttl`` seconds (kept in the budget store) answers without a call; connects made by the
        provider are added to it, deletes drop it. Otherwise the integrations of ``type`` are listed now.
        """
        return self._run(ops.find_integrations(self._context, type, cname_id, shared_listing=shared_listing))

    def connect_integration(self, type: str, cname_id: str, **settings: Any) -> Integration:
        """Connect a new integration; keyword arguments are type-specific settings.

        Created exactly once: if the response is lost, the hook looks for the integration before it sends
        the request again. The result has what the API answers (Id, Type, Status, State).
        """
        return self._run(ops.connect_integration(self._context, type, cname_id, settings))

    def update_integration(
        self, integration_id: str, state: str | None = None, cname_id: str | None = None, **settings: Any
    ) -> None:
        """Change an integration: ``state`` (``active``/``disabled``), its CNAME, or settings."""
        self._run(ops.update_integration(self._context, integration_id, state, cname_id, settings))

    def delete_integration(self, integration_id: str) -> None:
        """Delete an integration (cannot be undone)."""
        self._run(ops.delete_integration(self._context, integration_id))

    # ---- CNAMEs ----------------------------------------------------------------------------------------

    def list_cnames(self, page: int = 0, count: int = 25) -> CnamePage:
        """One page of the account's CNAMEs: ``page`` is zero-based, ``count`` is 25, 50 or 100."""
        return self._run(cname_ops.list_cname_page(self._context, page, count))

    def iter_cnames(self) -> Iterator[Cname]:
        """Every CNAME of the account, fetched lazily 100 at a time (the paging rules of integrations)."""
        cursor: ops.PageCursor[Cname] = ops.PageCursor()
        while cursor.page is not None:
            yield from cursor.advance(self.list_cnames(cursor.page, ops.FULL_PAGE))

    def get_cname(self, cname_id: str) -> Cname:
        """One CNAME by its Id (``0CN...``)."""
        return self._run(cname_ops.get_cname(self._context, cname_id))

    def find_cnames(self, host_name: str) -> list[Cname]:
        """The CNAMEs registered for ``host_name`` (normally zero or one; case does not matter)."""
        return self._run(cname_ops.find_cnames(self._context, host_name))

    def create_cname(self, host_name: str) -> Cname:
        """Register a host name (it must already be a DNS CNAME to ``okt.to``).

        Created exactly once: if the response is lost, the hook looks for the host name before it sends
        the request again. The host name is checked before any request.
        """
        return self._run(cname_ops.create_cname(self._context, host_name))

    def update_cname(self, cname_id: str, host_name: str) -> Cname:
        """Change a CNAME's host name."""
        return self._run(cname_ops.update_cname(self._context, cname_id, host_name))

    def cname_users(self, cname_id: str) -> list[Integration]:
        """The integrations that use CNAME ``cname_id`` (deleting the CNAME would break them)."""
        return self._run(cname_ops.cname_users(self._context, cname_id))

    def delete_cname(self, cname_id: str) -> None:
        """Delete a CNAME from Oktopost. Unguarded: see :meth:`cname_users`. The DNS record stays."""
        self._run(cname_ops.delete_cname(self._context, cname_id))

    # ---- integration actions ----------------------------------------------------------------------------

    def run_action(
        self,
        integration_id: str,
        action_name: str,
        payload: dict[str, Any] | str | None = None,
        *,
        safe_to_resend: bool | None = None,
    ) -> ActionResult:
        """Run one action (``contact.getByEmail``, ``lead.search``...) of a valid, active integration.

        ``payload`` is a dict or a JSON object string. After a failure that may have reached Oktopost the
        action is sent again only if ``safe_to_resend`` (default: only for actions whose name says they
        read); otherwise :class:`~airflow_provider_oktopost.exceptions.OktopostActionOutcomeUnknownError`.
        """
        return self._run(
            action_ops.run_action(
                self._context,
                integration_id,
                action_name,
                {} if payload is None else payload,
                safe_to_resend=safe_to_resend,
            )
        )

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection with ``GET /v2/me`` (the Test button in the connection form)."""
        try:
            me = self.get_me()
        except (OktopostError, ValueError) as error:
            return False, str(error)
        return True, f"Connected to Oktopost account {me.account_name or '(unnamed)'} ({me.account_id})"

    # ---- connection form (Airflow 3.0 / 3.1; 3.2+ reads get_provider_info instead) -----------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the standard fields for Oktopost and hide the ones it does not use."""
        from airflow_provider_oktopost.get_provider_info import UI_FIELD_BEHAVIOUR

        return legacy_field_behaviour(UI_FIELD_BEHAVIOUR)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields (region, timeout) for Airflow versions that build the form from the hook.

        Only plain text fields: Airflow 3.0/3.1 refuse a hook whose form uses any other field class (a
        ``SelectField`` made the whole connection type disappear), so the region is a text field checked
        against ``us``/``eu``.
        """
        from flask_babel import lazy_gettext
        from wtforms import StringField
        from wtforms.validators import AnyOf, Optional

        return {
            "region": StringField(
                lazy_gettext("Region (us or eu)"),
                default="us",
                validators=[Optional(), AnyOf(["us", "eu"], message="Region must be 'us' or 'eu'")],
            ),
            "timeout": timeout_widget(),
        }


__all__ = ["HOOK_PARAMS", "OktopostHook", "check_hook_params"]
