"""FastAPI app of the sandbox: the Oktopost ``/v2`` routes the provider uses, behind :class:`.ApiGate`.

Route handlers parse query strings and form bodies by hand instead of through FastAPI's validation,
because the real API answers bad input with its own envelopes (``Result: false`` plus an ``Errors`` list
or dict, sometimes with HTTP 200), never with FastAPI's 422. Parameters are still declared, as plain
strings, so that ``/openapi.json`` documents what is implemented. The control routes under
``/_sandbox`` live in :mod:`airflow_provider_oktopost.testing._control`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.http import HTTPBase
from starlette.types import ASGIApp

from airflow_provider_oktopost.testing._control import control_router
from airflow_provider_oktopost.testing._control_partner import partner_control_router
from airflow_provider_oktopost.testing._gate import ACCOUNT_SCOPE_KEY, FORM_SCOPE_KEY, ApiGate
from airflow_provider_oktopost.testing._partner import add_partner_routes
from airflow_provider_oktopost.testing._records import API_STATES, format_time, parse_setting, user_id_for
from airflow_provider_oktopost.testing._routes_onboarding import add_onboarding_routes
from airflow_provider_oktopost.testing.config import UNSET
from airflow_provider_oktopost.testing.state import SandboxState

PAGE_SIZES = (25, 50, 100)
_NOT_FOUND: dict[str, Any] = {"Result": False, "Errors": {"API": {"Error": "Integration not found"}}}
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class _DocumentedBasic(HTTPBase):
    """Declares Basic auth in the OpenAPI document without checking anything at request time.

    :class:`.ApiGate` has already authenticated the request by then, with the API's own 401/403 bodies;
    FastAPI's check could only disagree with it (it rejects non-ASCII credentials with its own body).
    """

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:
        return None


# Older FastAPI (0.117, which Airflow 3.1 pins) evaluates a dependency instance's string annotations without
# the module's globals, so ``request`` became a required query parameter (every call answered 422).
_DocumentedBasic.__call__.__annotations__["request"] = Request

_basic = _DocumentedBasic(
    scheme="basic", scheme_name="HTTPBasic", description="Account ID as username, API key as password."
)

_ERROR_EXAMPLE = {"Result": False, "Errors": {"API": {"Error": "Invalid credentials"}}}
_COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "Missing or wrong credentials",
        "content": {"application/json": {"example": _ERROR_EXAMPLE}},
    },
    403: {"description": "API access disabled for the account"},
    429: {"description": "Rate limited (60 calls/minute); empty body, no Retry-After; 15-minute block"},
}


def _form_body(required: list[str], properties: dict[str, str]) -> dict[str, Any]:
    """OpenAPI request body for a form-encoded write, since the handler reads the form itself."""
    schema = {
        "type": "object",
        "required": required,
        "properties": {name: {"type": "string", "description": d} for name, d in properties.items()},
        "additionalProperties": {"type": "string", "description": "stored in SettingsData (JSON is parsed)"},
    }
    return {
        "requestBody": {
            "required": bool(required),
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


def _json(payload: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status)


def _param_error(message: str) -> JSONResponse:
    return _json({"Result": False, "Errors": {"Param": {"get": message}}}, 400)


def _account(request: Request) -> str:
    return str(request.scope[ACCOUNT_SCOPE_KEY])


def _form(request: Request) -> dict[str, str]:
    return dict(request.scope.get(FORM_SCOPE_KEY, {}))


class SandboxApp(FastAPI):
    """A FastAPI app whose outermost ASGI layer is the :class:`.ApiGate`.

    The gate must sit outside Starlette's own middleware so that it receives the server's raw ``send``
    callable: that is how a ``drop`` fault reaches the TCP transport to close it.
    """

    def __init__(self, state: SandboxState, **kwargs: Any) -> None:
        self.sandbox_state = state
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        """Wrap the usual stack in the gate."""
        return ApiGate(super().build_middleware_stack(), self.sandbox_state)


def create_app(state: SandboxState) -> FastAPI:
    """Build the sandbox app around ``state`` (which the caller keeps, to inspect and steer it)."""
    app = SandboxApp(
        state,
        title="Oktopost Integrations API (sandbox)",
        version="2",
        description="In-memory stand-in for the Oktopost v2 Integrations API, for tests and local runs.",
        openapi_tags=[
            {"name": "Account", "description": "Credential check."},
            {
                "name": "Integrations",
                "description": "Partner integrations (list, get, connect, update, delete).",
            },
            {"name": "CNAMEs", "description": "Custom domains for integrations (list, get, create, ...)."},
            {"name": "Partner accounts", "description": "Partner (reseller) API at the root, without /v2."},
            {"name": "Sandbox control", "description": "Test-only routes, not part of the Oktopost API."},
        ],
    )
    _add_api_routes(app, state)
    app.include_router(control_router(state))
    app.include_router(partner_control_router(state))
    return app


def _add_api_routes(app: FastAPI, state: SandboxState) -> None:
    common: dict[str, Any] = {"responses": _COMMON_RESPONSES, "dependencies": [Security(_basic)]}

    @app.get("/v2/me", summary="Current user and account", tags=["Account"], **common)
    async def me(request: Request) -> JSONResponse:
        account_id = _account(request)
        user = {
            "Id": user_id_for(account_id),
            "Name": "Sandbox User",
            "Email": "sandbox@example.com",
            "LastLogin": format_time(state.now()),
        }
        return _json(
            {"Result": True, "User": user, "Account": {"Id": account_id, "Name": "Oktopost Sandbox"}}
        )

    @app.get("/v2/integration", summary="List integrations", tags=["Integrations"], **common)
    async def list_integrations(
        request: Request,
        integration_type: Annotated[str | None, Query(alias="type", description="Filter by type")] = None,
        page: Annotated[str | None, Query(alias="_page", description="Zero-based page (default 0)")] = None,
        count: Annotated[str | None, Query(alias="_count", description="25, 50 or 100 (default 25)")] = None,
    ) -> JSONResponse:
        size_raw = "25" if count is None else count
        if not re.fullmatch(r"\d+", size_raw) or int(size_raw) not in PAGE_SIZES:
            return _json({"Result": False, "Errors": [f"Page size {size_raw} is not valid."]}, 400)
        page_raw = "0" if page is None else page
        if not re.fullmatch(r"\d+", page_raw):
            return _param_error("Invalid value for parameter _page")
        size, number = int(size_raw), int(page_raw)
        items = state.list_integrations(_account(request), integration_type or None)
        return _json(
            {"Result": True, "Items": items[number * size : (number + 1) * size], "Total": len(items)}
        )

    @app.get(
        "/v2/integration/{integration_id}", summary="Get one integration", tags=["Integrations"], **common
    )
    async def get_integration(
        request: Request,
        integration_id: str,
        with_assets: Annotated[str | None, Query(alias="withAssets", description="1 adds Assets")] = None,
    ) -> JSONResponse:
        record = state.get(integration_id, _account(request), with_assets=with_assets == "1")
        if record is None:
            return _json(_NOT_FOUND, 404)
        return _json({"Result": True, "Integration": record})

    connect_body = _form_body(["type", "cnameId"], {"type": "Integration type", "cnameId": "CNAME id (0CN…)"})

    @app.post(
        "/v2/integration",
        summary="Connect an integration",
        tags=["Integrations"],
        openapi_extra=connect_body,
        **common,
    )
    async def connect_integration(request: Request) -> JSONResponse:
        form = _form(request)
        for name in ("type", "cnameId"):
            if not form.get(name):
                return _param_error(f"Missing value for parameter {name}")
        settings = {k: parse_setting(v) for k, v in form.items() if k not in ("type", "cnameId")}
        record = state.add_integration(
            form["type"], form["cnameId"], settings=settings, account_id=_account(request)
        )
        summary = {"Id": record["Id"], "Type": record["Type"], "Status": "invalid", "State": record["State"]}
        return _json({"Result": True, "Integration": summary})

    update_body = _form_body([], {"state": "active or disabled", "cnameId": "New CNAME id"})

    @app.post(
        "/v2/integration/{integration_id}",
        summary="Update an integration",
        description="An invalid `state` is answered with HTTP 200 and `Result: false`, as the real API can.",
        tags=["Integrations"],
        openapi_extra=update_body,
        **common,
    )
    async def update_integration(request: Request, integration_id: str) -> JSONResponse:
        form = _form(request)
        account_id = _account(request)
        if state.get(integration_id, account_id) is None:
            return _json(_NOT_FOUND, 404)
        new_state = form.get("state")
        if new_state is not None and new_state not in API_STATES:
            return _json(
                {"Result": False, "Errors": {"api": {"message": f"Invalid value for state: {new_state}"}}}
            )
        settings = {k: parse_setting(v) for k, v in form.items() if k not in ("state", "cnameId")}
        cname = (form["cnameId"] or None) if "cnameId" in form else UNSET
        if not state.update_integration(
            integration_id, account_id, state=new_state, cname_id=cname, settings=settings
        ):
            return _json(_NOT_FOUND, 404)
        return _json({"Result": True})

    @app.delete(
        "/v2/integration/{integration_id}", summary="Delete an integration", tags=["Integrations"], **common
    )
    async def delete_integration(request: Request, integration_id: str) -> JSONResponse:
        if not state.delete_integration(integration_id, _account(request)):
            return _json(_NOT_FOUND, 404)
        return _json({"Result": True})

    add_onboarding_routes(app, state, common)
    add_partner_routes(app, state, common)

    @app.api_route("/v2", methods=_ALL_METHODS, include_in_schema=False)
    @app.api_route("/v2/{rest:path}", methods=_ALL_METHODS, include_in_schema=False)
    async def unknown(request: Request) -> JSONResponse:
        # Also catches a known path with an unsupported method: the real API has no 405.
        return _json({"Result": False, "Errors": []}, 404)
