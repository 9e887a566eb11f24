"""Settings of an ``oktopost_partner`` connection: the same checks as ``oktopost``, another default host.

The partner API lives on ``https://reseller.oktopost.com`` without ``/v2``. Everything else (Account ID and
API key, proxy, TLS, timeout, retries, the call budget and its store) is read by
:func:`~.config.config_from_fields`, so a partner connection behaves like any other; its budget is its own,
because budgets are keyed by Base URL and Account ID (:func:`~.budget.registry.budget_for`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_oktopost._core.config import ClientConfig, config_from_fields

PARTNER_URL = "https://reseller.oktopost.com"


def partner_config_from_fields(
    conn_id: str,
    *,
    login: str | None,
    password: str | None,
    host: str | None,
    extra: Mapping[str, Any] | str | None,
    timeout: float | None = None,
    max_retries: int | None = None,
) -> ClientConfig:
    """Check a partner connection; ``host`` (any path kept as given, none added) overrides the default."""
    given = (host or "").strip() or PARTNER_URL
    config = config_from_fields(
        conn_id,
        login=login,
        password=password,
        host=given,
        extra=extra,
        timeout=timeout,
        max_retries=max_retries,
    )
    parts = urlsplit(given if "://" in given else f"https://{given}")
    if not parts.path.strip("/"):
        # config_from_fields adds /v2 to a bare host: the partner API has none.
        return replace(config, base_url=config.base_url.removesuffix("/v2"))
    return config


__all__ = ["PARTNER_URL", "partner_config_from_fields"]
