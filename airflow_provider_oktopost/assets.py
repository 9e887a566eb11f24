"""The ``oktopost`` asset URI scheme, and the asset events the operators and the sensor emit.

An Oktopost integration is named as an Airflow asset by the API host the account lives on, the Account ID
and the integration's Id; the account's integrations as a whole (what a watcher watches) drop the Id::

    oktopost://<api-host>/<account-id>/integrations/<integration-id>
    oktopost://<api-host>/<account-id>/integrations

``<api-host>`` is the host (and port, if not the default) of the connection's API URL: ``api.oktopost.com``
(US) or ``eu-api.oktopost.com`` (EU). Nothing secret goes into a URI: the API key never does, and a URI with
user info is refused. :func:`integration_asset` and :func:`integrations_asset` build the ``Asset``;
:func:`sanitize_uri` is the handler registered under ``asset-uris`` in ``get_provider_info``, so Airflow
normalises (host lower-cased, trailing slash dropped) and checks every ``oktopost://`` URI when a DAG is
parsed, with a ``ValueError`` for a malformed one.

When a task of this provider declares outlets, it records, after it succeeds, what it did to which
integration (:func:`emit_integration_events`):

- an ``oktopost`` asset naming one integration gets that integration's :func:`integration_extra` as the
  event's extra, when the task acted on that integration;
- an ``oktopost`` asset naming the account's integrations gets ``{"integrations": [extra, ...]}``;
- an ``AssetAlias`` gets the concrete integration's asset added at run time, with its extra (the Id is only
  known then, e.g. after connecting);
- any other asset is left to Airflow, which records its event as for any task.

The extra holds the Id, type, CNAME, status and state (plus the Account ID and ``deleted`` after a delete),
never settings or credentials. Without outlets a task does exactly what it did before: no extra call, no
event.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Asset, Context

SCHEME = "oktopost"
#: The API host of each Oktopost data center (the ``region`` of a connection).
REGION_HOSTS = {"us": "api.oktopost.com", "eu": "eu-api.oktopost.com"}
#: The keys of an integration's extra in an asset event; nothing else is ever copied from an integration.
EXTRA_KEYS = ("id", "type", "cname_id", "status", "state")

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")
_FORM = "oktopost://<api-host>/<account-id>/integrations[/<integration-id>]"


@dataclass(frozen=True)
class OktopostAssetRef:
    """What an ``oktopost://`` URI names: an integration, or (``integration_id`` None) all of an account's."""

    api_host: str
    account_id: str
    integration_id: str | None = None

    @property
    def uri(self) -> str:
        """The normalised URI."""
        path = f"/{self.account_id}/integrations"
        if self.integration_id is not None:
            path += f"/{self.integration_id}"
        return f"{SCHEME}://{self.api_host}{path}"

    def same_account(self, other: OktopostAssetRef) -> bool:
        """True when both name the same account on the same API host."""
        return (self.api_host, self.account_id) == (other.api_host, other.account_id)


def _bad(uri: str, why: str) -> ValueError:
    return ValueError(f"Invalid Oktopost asset URI {uri!r}: {why}; expected {_FORM}")


def _check_host(uri: str, netloc: str) -> str:
    if "@" in netloc:
        raise _bad(uri, "it must not contain user info (never put credentials in an asset URI)")
    host = netloc.lower()
    if not host:
        raise _bad(uri, "the API host is missing")
    host = host.removesuffix(":443")
    if not _HOST_RE.fullmatch(host):
        raise _bad(uri, f"{netloc!r} is not a host name")
    return host


def parse_uri(uri: str) -> OktopostAssetRef:
    """Parse and check an ``oktopost://`` URI; ``ValueError`` (naming what is wrong) if it is malformed."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme.lower() != SCHEME:
        raise _bad(uri, f"the scheme must be {SCHEME!r}")
    host = _check_host(uri, parts.netloc)
    if parts.query or parts.fragment:
        raise _bad(uri, "it must not have a query or fragment")
    segments = parts.path.rstrip("/").split("/")[1:]
    if len(segments) not in (2, 3) or segments[1] != "integrations":
        raise _bad(uri, "the path must be /<account-id>/integrations or /<account-id>/integrations/<id>")
    account_id = segments[0]
    if not _ID_RE.fullmatch(account_id):
        raise _bad(uri, f"{account_id!r} is not an Oktopost Account ID")
    integration_id = segments[2] if len(segments) == 3 else None
    if integration_id is not None and not _ID_RE.fullmatch(integration_id):
        raise _bad(uri, f"{integration_id!r} is not an Oktopost integration Id")
    return OktopostAssetRef(host, account_id, integration_id)


def sanitize_uri(parts: urllib.parse.SplitResult) -> urllib.parse.SplitResult:
    """The ``asset-uris`` handler: Airflow passes the split URI after its generic clean-up.

    Returns the normalised URI (lower-case host, no default port, no trailing slash); raises ``ValueError``
    for anything that does not name an Oktopost account's integrations or one integration.
    """
    ref = parse_uri(urllib.parse.urlunsplit(parts))
    return urllib.parse.urlsplit(ref.uri)


def api_host(*, region: str | None = None, base_url: str | None = None) -> str:
    """The ``<api-host>`` part for a connection's region (``us``/``eu``) or its Base URL."""
    if base_url:
        parts = urllib.parse.urlsplit(base_url if "://" in base_url else f"https://{base_url}")
        return _check_host(base_url, parts.netloc)
    key = (region or "us").strip().lower()
    if key not in REGION_HOSTS:
        raise ValueError(f"region must be one of {sorted(REGION_HOSTS)}, got {region!r}")
    return REGION_HOSTS[key]


def _ref(account_id: str, integration_id: str | None, region: str | None, base_url: str | None) -> str:
    from airflow_provider_oktopost._core.wire import require_id

    require_id("account_id", account_id)
    if integration_id is not None:
        require_id("integration_id", integration_id)
    host = api_host(region=region, base_url=base_url)
    return parse_uri(OktopostAssetRef(host, account_id, integration_id).uri).uri


def integration_uri(
    account_id: str, integration_id: str, *, region: str | None = None, base_url: str | None = None
) -> str:
    """The URI of one integration, e.g. ``oktopost://api.oktopost.com/001000000000001/integrations/002...``.

    :param account_id: The Account ID (the connection's Login).
    :param integration_id: The integration's Id.
    :param region: ``us`` (default) or ``eu``; ignored when ``base_url`` is given.
    :param base_url: The connection's Base URL, when it has one (a proxy, the sandbox).
    """
    return _ref(account_id, integration_id, region, base_url)


def integration_asset(
    account_id: str,
    integration_id: str,
    *,
    region: str | None = None,
    base_url: str | None = None,
    **asset_kwargs: Any,
) -> Asset:
    """An ``Asset`` for one integration (arguments as :func:`integration_uri`; the rest go to ``Asset``)."""
    from airflow.providers.common.compat.sdk import Asset

    return Asset(
        uri=integration_uri(account_id, integration_id, region=region, base_url=base_url), **asset_kwargs
    )


def integrations_asset(
    account_id: str, *, region: str | None = None, base_url: str | None = None, **asset_kwargs: Any
) -> Asset:
    """An ``Asset`` for all integrations of an account, e.g. to attach an ``AssetWatcher`` to.

    :param account_id: The Account ID (the connection's Login).
    :param region: ``us`` (default) or ``eu``; ignored when ``base_url`` is given.
    :param base_url: The connection's Base URL, when it has one.
    :param asset_kwargs: Passed to ``Asset`` (``name``, ``watchers``, ``extra``...).
    """
    from airflow.providers.common.compat.sdk import Asset

    return Asset(uri=_ref(account_id, None, region, base_url), **asset_kwargs)


def integration_extra(data: Mapping[str, Any], *, account_id: str | None = None) -> dict[str, Any]:
    """An integration's extra in an asset event: Id, type, CNAME, status and state only.

    ``data`` is :meth:`.Integration.to_dict` (or any dict with those keys); settings, social assets and
    anything else in it are dropped on purpose, so nothing secret can reach the metadata database.
    """
    extra = {key: data.get(key) for key in EXTRA_KEYS}
    extra["account_id"] = account_id or data.get("account_id")
    if data.get("deleted"):
        extra["deleted"] = True
    return extra


# ---- emitting events -------------------------------------------------------------------------------


def _is_alias(outlet: object) -> bool:
    return type(outlet).__name__ == "AssetAlias"


def _oktopost_ref(outlet: object) -> OktopostAssetRef | None:
    uri = getattr(outlet, "uri", None)
    if _is_alias(outlet) or not isinstance(uri, str) or not uri.startswith(f"{SCHEME}://"):
        return None
    return parse_uri(uri)


def wants_integration_events(task: object) -> bool:
    """True when the task's outlets include an ``oktopost`` asset or an ``AssetAlias``."""
    outlets = getattr(task, "outlets", None) or []
    return any(_is_alias(o) or _oktopost_ref(o) is not None for o in outlets)


def emit_integration_events(
    task: Any, context: Context, integrations: Iterable[Mapping[str, Any]], *, base_url: str, account_id: str
) -> int:
    """Fill the task's outlet events for the integrations it acted on (see the module docstring).

    :param task: The running operator or sensor (its ``outlets`` are read).
    :param context: The task's context (its ``outlet_events`` are written).
    :param integrations: What the task acted on, as :meth:`.Integration.to_dict` dicts.
    :param base_url: The connection's API URL (names the API host in the URIs).
    :param account_id: The connection's Account ID.
    :return: How many events were filled in.
    """
    outlets = list(getattr(task, "outlets", None) or [])
    if not outlets:
        return 0
    from airflow.providers.common.compat.sdk import Asset

    host = api_host(base_url=base_url)
    account = OktopostAssetRef(host, account_id)
    subjects = [integration_extra(item, account_id=account_id) for item in integrations]
    by_id = {str(extra["id"]): extra for extra in subjects if extra.get("id")}
    events = context["outlet_events"]
    filled = 0
    for outlet in outlets:
        if _is_alias(outlet):
            for integration_id, extra in by_id.items():
                uri = OktopostAssetRef(host, account_id, integration_id).uri
                events[outlet].add(Asset(uri=uri), extra=extra)
                filled += 1
            continue
        ref = _oktopost_ref(outlet)
        if ref is None:
            continue
        if not ref.same_account(account):
            task.log.warning("Outlet %s names another account than the connection's; no extra", ref.uri)
        elif ref.integration_id is None:
            events[outlet].extra = {"integrations": list[Any](subjects)}
            filled += 1
        elif ref.integration_id in by_id:
            events[outlet].extra = by_id[ref.integration_id]
            filled += 1
        else:
            task.log.warning(
                "Outlet %s names an integration this task did not act on (%s); its event has no extra",
                ref.uri,
                ", ".join(by_id) or "none",
            )
    return filled


__all__ = [
    "EXTRA_KEYS",
    "REGION_HOSTS",
    "SCHEME",
    "OktopostAssetRef",
    "api_host",
    "emit_integration_events",
    "integration_asset",
    "integration_extra",
    "integration_uri",
    "integrations_asset",
    "parse_uri",
    "sanitize_uri",
    "wants_integration_events",
]
