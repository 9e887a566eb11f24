"""The Airflow plugin for the Oktopost page: a FastAPI app at ``/oktopost`` and an entry in the UI's nav.

Airflow loads a provider's plugins in every process, task processes included (for macros), so this module
stays light: the FastAPI app (:mod:`airflow_provider_oktopost.plugins._fastapi_app`) is built only when
Airflow asks for ``fastapi_apps``, which only the API server (and ``airflow plugins``) does.

Since Airflow 3.1 the page appears in the UI's navigation under *Browse* (an ``external_views`` entry with
a ``url_route``: the UI shows it inside its own frame, at ``/plugin/oktopost``). Airflow 3.0 has no UI
extension points: there the plugin only serves the JSON API, which accepts only a Bearer token, like every
API of 3.0.

Both routes are behind Airflow's own login and permissions: a user must be allowed to read connections.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowPlugin

#: Where the app is mounted in the API server.
URL_PREFIX = "/oktopost"
#: The page's route in the UI (``/plugin/<route>``).
UI_ROUTE = "oktopost"


def _base_path() -> str:
    """The path part of ``[api] base_url`` (``""`` at the root), for links the UI follows."""
    from urllib.parse import urlsplit

    from airflow.providers.common.compat.sdk import conf

    base = str(conf.get("api", "base_url", fallback="") or "")
    path = urlsplit(base).path if "://" in base else base
    return path.rstrip("/")


_apps: list[dict[str, Any]] = []


def _fastapi_apps() -> list[dict[str, Any]]:
    """The app, built the first time Airflow asks (see the module docstring)."""
    if not _apps:
        from airflow_provider_oktopost.plugins._fastapi_app import create_app

        _apps.append({"app": create_app(), "url_prefix": URL_PREFIX, "name": "Oktopost"})
    return _apps


def _external_views() -> list[dict[str, Any]]:
    """The *Browse > Oktopost* entry of the UI's navigation (Airflow 3.1+)."""
    return [
        {
            "name": "Oktopost",
            "href": f"{_base_path()}{URL_PREFIX}/",
            "url_route": UI_ROUTE,
            "destination": "nav",
            "category": "browse",
        }
    ]


class _BuiltWhenAsked(type):
    """Answers ``fastapi_apps`` and ``external_views`` on the plugin class only when Airflow reads them."""

    @property
    def fastapi_apps(cls) -> list[dict[str, Any]]:
        return _fastapi_apps()

    @property
    def external_views(cls) -> list[dict[str, Any]]:
        return _external_views()


class OktopostPlugin(AirflowPlugin, metaclass=_BuiltWhenAsked):
    """The Oktopost page: every account's call budget, blocks and waits (see the module docstring).

    Airflow reads a provider's plugin from the class, and a plugins-folder plugin from an instance: both
    get the app and the view (the metaclass's properties answer on the class, these on an instance).
    """

    name = "oktopost"

    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The app, built on first use."""
        return _fastapi_apps()

    @property
    def external_views(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The *Browse > Oktopost* entry."""
        return _external_views()
