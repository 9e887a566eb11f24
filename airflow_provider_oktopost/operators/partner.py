"""``OktopostCreateAccountOperator``: provision a customer's Oktopost account, exactly once by external id.

A partner onboards a customer by creating an account for them (``POST /account`` on the partner API). The
external id, the partner's own id for the customer, makes the create exactly-once: the operator first
looks for the account with that external id and returns it when there is one; after a lost answer it
looks again before anything is re-sent (:func:`~airflow_provider_oktopost._core.partner_ops.ensure_account`).
So a second run, a retry, a Clear, or a create whose answer was lost after Oktopost made the account all
end with the one account for that external id. Without an external id the operator refuses to run.

The owner's initial password is a secret: it is registered with Airflow's secrets masker before any call,
its field name (``owner_password``) makes Airflow mask it in the rendered-template view, it is never part of
an error message, of the ``account`` XCom or of the return value (the account's Id).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_oktopost._core import partner_wire
from airflow_provider_oktopost._core.validation import Check
from airflow_provider_oktopost.operators._base import OktopostBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_oktopost.hooks.partner import OktopostPartnerHook

#: ``OktopostPartnerHook.default_conn_name``, without importing the hook on the DAG-parse path.
DEFAULT_PARTNER_CONN_ID = "oktopost_partner_default"


def _email(name: str, value: Any) -> str:
    text = partner_wire.require_text(name, value)
    if "@" not in text or text.startswith("@") or text.endswith("@"):
        raise ValueError(f"{name} must be an e-mail address such as 'owner@example.com', got {text!r}")
    return text


class OktopostCreateAccountOperator(OktopostBaseOperator):
    """Ensure the Oktopost account for ``external_id`` exists (create it once); return its Id.

    The account record (:meth:`.PartnerAccount.to_dict`, never the password) is pushed under the XCom key
    ``account``. Every argument but the connection is templated; pass the password from a secrets backend,
    e.g. ``owner_password="{{ var.value.acme_owner_password }}"`` or from a connection's password field.

    :param external_id: The partner's id for the customer (required; Oktopost keeps it unique). It is what
        makes the create exactly-once.
    :param company: The account's (company's) name.
    :param owner_first_name: The owner's first name.
    :param owner_last_name: The owner's last name.
    :param owner_email: The owner's e-mail address (their login).
    :param owner_password: The owner's initial password (a secret: masked everywhere).
    :param license_id: The Oktopost license for the account (such as ``017_SUB_XXXXX_V7``).
    :param oktopost_conn_id: The ``oktopost_partner`` connection (the partner's Account ID and key;
        templated).
    """

    template_fields = (
        "external_id",
        "company",
        "owner_first_name",
        "owner_last_name",
        "owner_email",
        "owner_password",
        "license_id",
        "oktopost_conn_id",
    )
    ui_color = "#e8f0fe"
    _checks: ClassVar[Mapping[str, Check]] = {
        "external_id": partner_wire.require_external_id,
        "company": partner_wire.require_text,
        "owner_first_name": partner_wire.require_text,
        "owner_last_name": partner_wire.require_text,
        "owner_email": _email,
        "owner_password": partner_wire.require_password,
        "license_id": partner_wire.require_text,
    }

    def __init__(
        self,
        *,
        external_id: str | None = None,
        company: str,
        owner_first_name: str,
        owner_last_name: str,
        owner_email: str,
        owner_password: str,
        license_id: str,
        oktopost_conn_id: str = DEFAULT_PARTNER_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(oktopost_conn_id=oktopost_conn_id, **kwargs)
        self.external_id = external_id
        self.company = company
        self.owner_first_name = owner_first_name
        self.owner_last_name = owner_last_name
        self.owner_email = owner_email
        self.owner_password = owner_password
        self.license_id = license_id
        self._validate(rendered=False)

    @cached_property
    def hook(self) -> OktopostPartnerHook:  # type: ignore[override]
        """The partner hook for ``oktopost_conn_id`` with ``hook_params``."""
        from airflow_provider_oktopost.hooks.partner import OktopostPartnerHook

        return OktopostPartnerHook(self.oktopost_conn_id, **self.hook_params)

    def execute(self, context: Context) -> Any:
        # Before anything can log it (even a failed check of another argument).
        from airflow_provider_oktopost.hooks.partner import _mask_password

        if isinstance(self.owner_password, str):
            _mask_password(self.owner_password)
        return super().execute(context)

    def _work(self, context: Context) -> str:
        from airflow_provider_oktopost.hooks.partner import new_account

        new = new_account(
            company=self.company,
            owner_first_name=self.owner_first_name,
            owner_last_name=self.owner_last_name,
            owner_email=self.owner_email,
            owner_password=self.owner_password,
            license_id=self.license_id,
            external_id=self.external_id,
        )
        account, created = self.hook.ensure_account(new)
        self.log.info(
            "Oktopost account %s (%s) for external id %s: %s",
            account.id,
            account.name,
            self.external_id,
            "created" if created else "it already existed, nothing created",
        )
        context["ti"].xcom_push(key="account", value=account.to_dict())
        return account.id


__all__ = ["OktopostCreateAccountOperator"]
