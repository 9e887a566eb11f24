"""What the two worker hooks share: the connection, its checked settings, the HTTP session, the call driver.

:class:`~airflow_provider_oktopost.hooks.oktopost.OktopostHook` (``oktopost``) and
:class:`~airflow_provider_oktopost.hooks.partner.OktopostPartnerHook` (``oktopost_partner``) differ only in
where their API lives (:class:`~airflow_provider_oktopost._core.config.ApiRoot`), their calls and their
connection forms. Everything between an Airflow connection and a finished call is written once here, so
both hooks read a connection, mask its secrets, keep one session and drive the core operations the same
way. Private: users see the two public hooks, which inherit ``config``, ``get_conn()`` and ``close()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_oktopost._core import operations as ops
from airflow_provider_oktopost._core.config import (
    INTEGRATIONS_API,
    ApiRoot,
    ClientConfig,
    config_from_connection,
)
from airflow_provider_oktopost._core.driver import run_sync
from airflow_provider_oktopost._core.steps import Op

if TYPE_CHECKING:
    import requests

    from airflow_provider_oktopost._core.transports import RequestsTransport

T = TypeVar("T")


class OktopostBaseHook(BaseHook):
    """An Oktopost connection and the ``requests`` session every call of the hook reuses.

    Nothing happens when the hook is built (a DAG file may create one for free); the connection is looked
    up and checked on first use.

    :param oktopost_conn_id: The Airflow connection to use (default: the hook's ``default_conn_name``).
    :param timeout: Seconds to wait for each response; overrides the connection's ``timeout`` extra.
    :param max_retries: Retries of transient failures; overrides the connection's ``max_retries`` extra.
    """

    conn_name_attr = "oktopost_conn_id"
    default_conn_name = "oktopost_default"
    #: Where the hook's API lives when the connection names no Base URL.
    api_root: ClassVar[ApiRoot] = INTEGRATIONS_API

    def __init__(
        self,
        oktopost_conn_id: str | None = None,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__()
        self.oktopost_conn_id = self.default_conn_name if oktopost_conn_id is None else oktopost_conn_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._transport: RequestsTransport | None = None

    @cached_property
    def config(self) -> ClientConfig:
        """The checked connection settings; the API key is registered with Airflow's secrets masker."""
        conn = self.get_connection(self.oktopost_conn_id)
        config = config_from_connection(
            self.oktopost_conn_id,
            conn,
            conn.extra_dejson,
            api=self.api_root,
            timeout=self._timeout,
            max_retries=self._max_retries,
        )
        mask_config(config)
        return config

    def get_conn(self) -> requests.Session:
        """The ``requests.Session`` this hook reuses for every call (keep-alive)."""
        return self._get_transport().session

    def _get_transport(self) -> RequestsTransport:
        if self._transport is None:
            from airflow_provider_oktopost._core.transports import RequestsTransport

            self._transport = RequestsTransport(self.config)
        return self._transport

    @cached_property
    def _context(self) -> ops.Context:
        return ops.Context.for_config(self.config)

    def _run(self, op: Op[T], *secrets: str) -> T:
        """Drive one core operation over the session; ``secrets`` (a password the call sends) are scrubbed
        from its errors besides the connection's own."""
        return run_sync(op, self._get_transport(), (*self.config.secrets, *secrets))

    def close(self) -> None:
        """Close the HTTP session (it is also released when the hook is garbage collected)."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None


def mask_config(config: ClientConfig) -> None:
    """Register the key, the Basic-auth token derived from it and any proxy credentials (the ``proxy``
    extra's password and the URL that holds it) with Airflow's secrets masker."""
    from airflow.providers.common.compat.sdk import mask_secret

    from airflow_provider_oktopost._core.transports import basic_auth_header

    for secret in (config.api_key, basic_auth_header(config).split(" ", 1)[1], *config.secrets[1:]):
        mask_secret(secret)


def legacy_field_behaviour(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A ``ui-field-behaviour`` of ``get_provider_info`` (what Airflow 3.2+ reads) in the shape of the
    hook's ``get_ui_field_behaviour`` (what 3.0/3.1 call), so both forms come from one constant."""
    return {
        "hidden_fields": list(spec["hidden-fields"]),
        "relabeling": dict(spec["relabeling"]),
        "placeholders": dict(spec["placeholders"]),
    }


def timeout_widget() -> Any:
    """The Timeout field of both connection forms on Airflow 3.0/3.1: plain text, the only field class
    those versions accept from a provider (a ``SelectField`` made the whole connection type disappear)."""
    from flask_babel import lazy_gettext
    from wtforms import StringField
    from wtforms.validators import Optional

    return StringField(lazy_gettext("Timeout (seconds)"), validators=[Optional()])
