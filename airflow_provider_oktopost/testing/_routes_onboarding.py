"""Sandbox routes for the rest of the onboarding chain: CNAMEs (``/v2/cname``) and integration actions.

Kept out of :mod:`.app` so that each module stays small; :func:`add_onboarding_routes` is called by
``create_app`` before the catch-all route. The same gate applies as for every ``/v2`` route (auth, rate
limit, injected faults, request log).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from airflow_provider_oktopost.testing._actions import run_action
from airflow_provider_oktopost.testing._gate import ACCOUNT_SCOPE_KEY, FORM_SCOPE_KEY
from airflow_provider_oktopost.testing.state import SandboxState

_PAGE_SIZES = (25, 50, 100)
_CNAME_NOT_FOUND: dict[str, Any] = {"Result": False, "Errors": {"API": {"Error": "Cname not found"}}}
_INTEGRATION_NOT_FOUND: dict[str, Any] = {
    "Result": False,
    "Errors": {"API": {"Error": "Integration not found"}},
}


def _json(payload: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status)


def _param_error(message: str) -> JSONResponse:
    return _json({"Result": False, "Errors": {"Param": {"get": message}}}, 400)


def _refused(field: str, message: str) -> JSONResponse:
    return _json({"Result": False, "Errors": {field: {"Error": message}}}, 400)


def _form_body(fields: dict[str, str]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": list(fields),
        "properties": {name: {"type": "string", "description": d} for name, d in fields.items()},
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


class CnameBody(BaseModel):
    """A CNAME to store directly through ``POST /_sandbox/cnames`` (no name rules checked)."""

    name: str
    account_id: str | None = None


def add_onboarding_routes(app: FastAPI, state: SandboxState, common: dict[str, Any]) -> None:
    """Add the CNAME and integration-action routes to ``app`` (``common``: responses and security)."""

    def account(request: Request) -> str:
        return str(request.scope[ACCOUNT_SCOPE_KEY])

    def form(request: Request) -> dict[str, str]:
        return dict(request.scope.get(FORM_SCOPE_KEY, {}))

    @app.get("/v2/cname", summary="List CNAMEs", tags=["CNAMEs"], **common)
    async def list_cnames(
        request: Request,
        page: Annotated[str | None, Query(alias="_page", description="Zero-based page (default 0)")] = None,
        count: Annotated[str | None, Query(alias="_count", description="25, 50 or 100 (default 25)")] = None,
    ) -> JSONResponse:
        size_raw = "25" if count is None else count
        if not re.fullmatch(r"\d+", size_raw) or int(size_raw) not in _PAGE_SIZES:
            return _json({"Result": False, "Errors": [f"Page size {size_raw} is not valid."]}, 400)
        page_raw = "0" if page is None else page
        if not re.fullmatch(r"\d+", page_raw):
            return _param_error("Invalid value for parameter _page")
        size, number = int(size_raw), int(page_raw)
        items = state.cnames.list(account(request))
        return _json(
            {"Result": True, "Items": items[number * size : (number + 1) * size], "Total": len(items)}
        )

    @app.get("/v2/cname/{cname_id}", summary="Get one CNAME", tags=["CNAMEs"], **common)
    async def get_cname(request: Request, cname_id: str) -> JSONResponse:
        record = state.cnames.get(cname_id, account(request))
        return _json(_CNAME_NOT_FOUND, 404) if record is None else _json({"Result": True, "Cname": record})

    name_body = _form_body({"cname": "Host name, e.g. links.example.com (a DNS CNAME to okt.to)"})

    @app.post("/v2/cname", summary="Create a CNAME", tags=["CNAMEs"], openapi_extra=name_body, **common)
    async def create_cname(request: Request) -> JSONResponse:
        name = form(request).get("cname")
        if not name:
            return _param_error("Missing value for parameter cname")
        record, problem = state.cnames.create(name, account(request))
        if record is None:
            return _refused("cname", problem or "Invalid host name")
        return _json({"Result": True, "Cname": record})

    @app.post(
        "/v2/cname/{cname_id}", summary="Update a CNAME", tags=["CNAMEs"], openapi_extra=name_body, **common
    )
    async def update_cname(request: Request, cname_id: str) -> JSONResponse:
        name = form(request).get("cname")
        if not name:
            return _param_error("Missing value for parameter cname")
        record, problem = state.cnames.update(cname_id, name, account(request))
        if record is None:
            return _json(_CNAME_NOT_FOUND, 404) if problem is None else _refused("cname", problem)
        return _json({"Result": True, "Cname": record})

    @app.delete(
        "/v2/cname/{cname_id}",
        summary="Delete a CNAME",
        description="Removes the record from Oktopost only (not from DNS); integrations on it turn invalid.",
        tags=["CNAMEs"],
        **common,
    )
    async def delete_cname(request: Request, cname_id: str) -> JSONResponse:
        account_id = account(request)
        if not state.cnames.delete(cname_id, account_id):
            return _json(_CNAME_NOT_FOUND, 404)
        for item in state.list_integrations(account_id):
            if item["CnameId"] == cname_id:
                state.set_status(item["Id"], "invalid")  # the docs: deleting a CNAME breaks them
        return _json({"Result": True})

    action_body = _form_body(
        {
            "id": "Integration id (014…)",
            "actionName": "e.g. contact.getByEmail, lead.getByEmail, lead.search",
            "payload": 'JSON object, e.g. {"email": "someone@example.com"}',
        }
    )

    @app.post(
        "/v2/integration-action",
        summary="Run an integration action",
        description="Only for a valid and active integration; Salesforce, HubSpot and Marketo actions.",
        tags=["Integrations"],
        openapi_extra=action_body,
        **common,
    )
    async def integration_action(request: Request) -> JSONResponse:
        fields = form(request)
        for name in ("id", "actionName"):
            if not fields.get(name):
                return _param_error(f"Missing value for parameter {name}")
        integration = state.get(fields["id"], account(request))
        if integration is None:
            return _json(_INTEGRATION_NOT_FOUND, 404)
        status, body = run_action(integration, fields["actionName"], fields.get("payload", ""))
        return _json(body, status)

    @app.get("/_sandbox/cnames", summary="Every CNAME", tags=["Sandbox control"])
    def control_cnames() -> list[dict[str, Any]]:
        return state.cnames.list()

    @app.post(
        "/_sandbox/cnames", summary="Add a CNAME directly (no API call, not logged)", tags=["Sandbox control"]
    )
    def control_add_cname(body: CnameBody) -> dict[str, Any]:
        return state.cnames.add(body.name, body.account_id)
