"""Client settings, read from an Airflow connection and checked before any request is made.

Kept free of Airflow imports: it takes the connection's plain fields, so the hooks (worker, sync lookup) and
the trigger (event loop, async lookup) share one reading of the same connection. The ``oktopost`` and
``oktopost_partner`` connections are read by the same code too: all that differs is where the API lives
(:class:`ApiRoot`), so both get the same checks of the key, proxy, TLS, timeout, retries and budget.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from airflow_provider_oktopost._core.budget.settings import (
    DEFAULT_PER_MINUTE,
    OPTIONS,
    BudgetSettings,
    airflow_option,
)
from airflow_provider_oktopost._core.retry import RetryPolicy
from airflow_provider_oktopost.exceptions import OktopostConfigError

REGION_URLS = {"us": "https://api.oktopost.com/v2", "eu": "https://eu-api.oktopost.com/v2"}
#: The partner (reseller) API's host; it has no ``/v2``.
PARTNER_URL = "https://reseller.oktopost.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True)
class ApiRoot:
    """Where one Oktopost API lives: the one thing an ``oktopost`` and an ``oktopost_partner`` connection
    read differently."""

    #: The root URL when the connection names no Base URL (and no region).
    default_url: str
    #: What the ``region`` extra may name (data center -> root URL); empty: the extra is not read.
    regions: Mapping[str, str] = field(default_factory=dict)
    #: The path a Base URL given as a bare host gets (``/v2``); a path given with it is kept as given.
    bare_host_path: str = ""


#: The Integrations API: US or EU data center, ``/v2`` under a bare host.
INTEGRATIONS_API = ApiRoot(REGION_URLS["us"], REGION_URLS, "/v2")
#: The partner API (``docs/partners.md``): one host, no region, no ``/v2``. Its call budget is its own,
#: because budgets are keyed by Base URL and Account ID.
PARTNER_API = ApiRoot(PARTNER_URL)


@dataclass(frozen=True)
class ClientConfig:
    """Everything a transport needs. ``api_key`` is left out of ``repr`` so it cannot reach a log."""

    base_url: str
    account_id: str
    api_key: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_limit_per_minute: int = DEFAULT_PER_MINUTE
    conn_id: str | None = None
    #: Explicit proxy URL from the connection (``proxy`` extra); it may carry credentials, so no repr.
    proxy: str | None = field(default=None, repr=False)
    #: TLS verification: ``True`` (system/certifi CAs), ``False`` (off) or the path of a CA bundle.
    verify: bool | str = True
    #: Where the account's shared call budget lives and how it behaves (see ``_core.budget``).
    budget: BudgetSettings = field(default_factory=BudgetSettings)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values to scrub from every message and log line (see ``core.redact``)."""
        return (self.api_key, *proxy_secrets(self.proxy))

    def proxy_url(self) -> str | None:
        """The proxy for ``base_url``: the ``proxy`` extra, else the standard environment variables.

        ``HTTPS_PROXY``/``HTTP_PROXY`` (either case) for the Base URL's scheme, unless ``NO_PROXY`` names
        its host; read with the standard library, as ``requests`` and ``httpx`` would read them. The
        transports keep their own environment handling off (``trust_env=False``) so that ``.netrc`` can
        never replace the connection's credentials; this function is the one place proxies come from.
        """
        if self.proxy:
            return self.proxy
        import urllib.request

        parts = urlsplit(self.base_url)
        if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
            return None
        return urllib.request.getproxies_environment().get(parts.scheme) or None


def proxy_secrets(proxy: str | None) -> tuple[str, ...]:
    """The credentials inside a proxy URL (password, and the URL itself), for masking."""
    if not proxy:
        return ()
    password = urlsplit(proxy).password
    return (proxy, password) if password else ()


def resolve_proxy(conn_id: str, value: object) -> str | None:
    """The ``proxy`` extra: an ``http(s)://[user:password@]host:port`` URL, or empty for none."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OktopostConfigError(
            f"Connection {conn_id!r}: extra 'proxy' must be a URL such as 'http://proxy.example.com:3128'"
        )
    return text


def resolve_verify(conn_id: str, value: object) -> bool | str:
    """The ``verify`` extra: true (default), false (off, with a loud warning), or a CA bundle's path."""
    import os

    if value in (None, "") or value is True or str(value).strip().lower() in ("true", "1", "yes"):
        return True
    if value is False or str(value).strip().lower() in ("false", "0", "no", "off"):
        import logging

        logging.getLogger("airflow_provider_oktopost").warning(
            "Connection %r: TLS certificate verification is OFF (extra verify=false). Anyone on the network "
            "path can read and change Oktopost traffic, API key included; trust a private CA with "
            "verify=<path to a CA bundle> instead",
            conn_id,
        )
        return False
    path = str(value).strip()
    if not os.path.isfile(path):
        raise OktopostConfigError(
            f"Connection {conn_id!r}: extra 'verify' must be true, false or the path of a CA bundle file; "
            f"no file at {path!r}"
        )
    return path


def _number(conn_id: str, key: str, value: object, *, integer: bool, minimum: float) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(str(value)) if integer else float(str(value))
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number of seconds"
        raise OktopostConfigError(
            f"Connection {conn_id!r}: extra {key!r} must be {kind}, got {value!r}"
        ) from None
    if not number >= minimum:
        raise OktopostConfigError(
            f"Connection {conn_id!r}: extra {key!r} must be >= {minimum}, got {value!r}"
        )
    return number


def resolve_base_url(conn_id: str, host: str | None, region: object, api: ApiRoot = INTEGRATIONS_API) -> str:
    """The API root: an explicit ``host`` (full URL) wins; otherwise the data center's host."""
    if host:
        host = host.strip()
        parts = urlsplit(host if "://" in host else f"https://{host}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OktopostConfigError(
                f"Connection {conn_id!r}: Base URL must be an http(s) URL such as "
                f"{api.default_url!r}, got a value with scheme {parts.scheme!r}"
            )
        if parts.username or parts.password:
            raise OktopostConfigError(
                f"Connection {conn_id!r}: Base URL must not contain credentials; put the Account ID in "
                "Login and the API key in Password"
            )
        if parts.query or parts.fragment:
            raise OktopostConfigError(f"Connection {conn_id!r}: Base URL must not have a query or fragment")
        path = parts.path.rstrip("/") or api.bare_host_path
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return f"{parts.scheme}://{netloc}{path}"
    if not api.regions or region in (None, ""):
        return api.default_url
    key = str(region).strip().lower()
    if key not in api.regions:
        names = " or ".join(repr(name) for name in api.regions)
        raise OktopostConfigError(f"Connection {conn_id!r}: extra 'region' must be {names}, got {region!r}")
    return api.regions[key]


class ConnectionFields(Protocol):
    """The fields of an Airflow connection this module reads (sync and async lookups return such objects)."""

    @property
    def login(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def host(self) -> str | None: ...


def config_from_connection(
    conn_id: str,
    conn: ConnectionFields,
    extra: Mapping[str, Any],
    *,
    api: ApiRoot = INTEGRATIONS_API,
    timeout: float | None = None,
    max_retries: int | None = None,
) -> ClientConfig:
    """:func:`config_from_fields` for a looked-up connection and its extras (legacy prefixes removed).

    The one reading of a connection that the sync hooks and the triggerer's async lookup share.
    """
    return config_from_fields(
        conn_id,
        login=conn.login,
        password=conn.password,
        host=conn.host,
        extra=normalize_extras(extra),
        timeout=timeout,
        max_retries=max_retries,
        api=api,
    )


def config_from_fields(
    conn_id: str,
    *,
    login: str | None,
    password: str | None,
    host: str | None,
    extra: Mapping[str, Any] | str | None,
    timeout: float | None = None,
    max_retries: int | None = None,
    api: ApiRoot = INTEGRATIONS_API,
) -> ClientConfig:
    """Check an Oktopost connection and turn it into a :class:`ClientConfig`.

    ``timeout`` and ``max_retries`` given by the caller (hook arguments) win over the connection's extras;
    ``api`` says where the API lives when the connection names no Base URL (default: the Integrations API).
    """
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError:
            raise OktopostConfigError(f"Connection {conn_id!r}: Extra is not valid JSON") from None
    extras: Mapping[str, Any] = extra if isinstance(extra, Mapping) else {}
    if not login or not login.strip():
        raise OktopostConfigError(
            f"Connection {conn_id!r} has no Account ID: set the connection's Login (shown as 'Account ID') "
            "to the Account ID from Oktopost's My Profile > API page"
        )
    if not password:
        raise OktopostConfigError(
            f"Connection {conn_id!r} has no API key: set the connection's Password (shown as 'API Key')"
        )
    base_url = resolve_base_url(conn_id, host, extras.get("region"), api)
    if timeout is None:
        raw_timeout = extras.get("timeout")
        timeout = (
            DEFAULT_TIMEOUT
            if raw_timeout in (None, "")
            else _number(conn_id, "timeout", raw_timeout, integer=False, minimum=0.001)
        )
    if max_retries is None:
        raw_retries = extras.get("max_retries")
        max_retries = (
            DEFAULT_MAX_RETRIES
            if raw_retries in (None, "")
            else int(_number(conn_id, "max_retries", raw_retries, integer=True, minimum=0))
        )
    raw_rate = extras.get("rate_limit_per_minute")
    rate = (
        DEFAULT_PER_MINUTE
        if raw_rate in (None, "")
        else int(_number(conn_id, "rate_limit_per_minute", raw_rate, integer=True, minimum=1))
    )
    budget = budget_settings(conn_id, extras)
    return ClientConfig(
        base_url=base_url,
        account_id=login.strip(),
        api_key=password,
        timeout=float(timeout),
        rate_limit_per_minute=rate,
        conn_id=conn_id,
        proxy=resolve_proxy(conn_id, extras.get("proxy")),
        verify=resolve_verify(conn_id, extras.get("verify")),
        retry=RetryPolicy(max_retries=int(max_retries), max_wait=budget.max_wait),
        budget=budget,
    )


def budget_settings(conn_id: str, extras: Mapping[str, Any]) -> BudgetSettings:
    """The budget settings: each from the connection's extras, else ``[oktopost]`` in Airflow's config."""
    values: dict[str, Any] = {}
    for extra_name, (option, attribute) in OPTIONS.items():
        raw = extras.get(extra_name)
        where = extra_name
        if raw in (None, ""):
            raw = airflow_option(option)
        if raw in (None, ""):
            continue
        if attribute in ("store", "directory"):
            values[attribute] = str(raw).strip()
        elif attribute == "daily_limit":
            values[attribute] = int(_number(conn_id, where, raw, integer=True, minimum=1))
        elif attribute in ("share_for_other_tools", "listing_ttl"):  # 0 is meaningful: none / no sharing
            values[attribute] = _number(conn_id, where, raw, integer=False, minimum=0)
        else:
            values[attribute] = _number(conn_id, where, raw, integer=False, minimum=0.001)
    try:
        return BudgetSettings(**values)
    except ValueError as error:
        raise OktopostConfigError(f"Connection {conn_id!r}: {error}") from None


def normalize_extras(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Extras with any legacy ``extra__oktopost__`` prefix removed (older form widgets stored them so)."""
    prefix = "extra__oktopost__"
    out = {k: v for k, v in extra.items() if not k.startswith(prefix)}
    for key, value in extra.items():
        if key.startswith(prefix) and out.get(key[len(prefix) :]) in (None, ""):
            out[key[len(prefix) :]] = value
    return out
