"""The Oktopost plugin's FastAPI app: ``GET /oktopost/api/accounts`` (JSON) and ``GET /oktopost/`` (the page).

Plugin apps are not behind Airflow's login by themselves: both routes depend on Airflow's own
``requires_access_connection(method="GET")``, so a request without a login is refused (401/403) and so is a
user who may not read connections. Routes are plain functions: Starlette runs them in a worker thread, so
asking a budget store on disk or on a Redis server never holds the API server's event loop.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_oktopost.budget_view import accounts
from airflow_provider_oktopost.plugins._page import render_page

if TYPE_CHECKING:
    import fastapi

log = logging.getLogger("airflow_provider_oktopost.plugin")


def _read() -> dict[str, Any]:
    from fastapi import HTTPException

    try:
        return accounts()
    except Exception as error:  # the store is down or misconfigured: say so, without any detail that leaks
        log.warning("The Oktopost page could not read the budget store: %s", type(error).__name__)
        raise HTTPException(
            503, f"The Oktopost call budget store cannot be read ({type(error).__name__})"
        ) from None


def create_app() -> fastapi.FastAPI:
    """The app the plugin mounts at ``/oktopost`` in the API server."""
    from airflow.api_fastapi.core_api.security import requires_access_connection
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI(title="Oktopost", docs_url=None, redoc_url=None, openapi_url=None)
    readers = [Depends(requires_access_connection(method="GET"))]

    @app.get("/api/accounts", dependencies=readers)
    def get_accounts() -> dict[str, Any]:
        """Every account the budget store knows: calls this minute and today, block, polling, waits."""
        return _read()

    @app.get("/", dependencies=readers, response_class=HTMLResponse)
    def get_page() -> str:
        """The same as a page (shown inside the Airflow UI at ``/plugin/oktopost``)."""
        return render_page(_read())

    return app
