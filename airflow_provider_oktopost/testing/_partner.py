"""The sandbox's partner (reseller) routes: ``GET /account``, ``GET /account/{id}``, ``POST /account``.

Oktopost serves them on ``https://reseller.oktopost.com`` without ``/v2``; the sandbox serves them at its
root, behind the same gate as ``/v2`` (faults, Basic auth, the calling key's rate limit, the request log,
with the owner's password masked). The rules and assumptions are described in :mod:`.partner_store`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from airflow_provider_oktopost.testing._gate import ACCOUNT_SCOPE_KEY, FORM_SCOPE_KEY

_PAGE_SIZES = (25, 50, 100)


def _json(payload: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status)


_NOT_A_PARTNER: dict[str, Any] = {
    "Result": False,
    "Errors": {"api": {"message": "This API is available to Oktopost partners only"}},
}
_NOT_FOUND: dict[str, Any] = {"Result": False, "Errors": {"API": {"Error": "Account not found"}}}


def add_partner_routes(app: FastAPI, state: Any, common: dict[str, Any]) -> None:
    """The ``/account`` routes, bound to ``state`` (a :class:`.SandboxState`)."""

    def partner(request: Request) -> str | None:
        account_id = str(request.scope[ACCOUNT_SCOPE_KEY])
        return account_id if state.is_partner(account_id) else None

    @app.get("/account", summary="List the accounts a partner manages", tags=["Partner accounts"], **common)
    async def list_accounts(
        request: Request,
        query: Annotated[str | None, Query(description="Search text")] = None,
        page: Annotated[str | None, Query(alias="_page", description="Zero-based page")] = None,
        count: Annotated[str | None, Query(alias="_count", description="25, 50 or 100")] = None,
    ) -> JSONResponse:
        partner_id = partner(request)
        if partner_id is None:
            return _json(_NOT_A_PARTNER, 403)
        size_raw, page_raw = count or "100", page or "0"
        if not re.fullmatch(r"\d+", size_raw) or int(size_raw) not in _PAGE_SIZES:
            return _json({"Result": False, "Errors": [f"Page size {size_raw} is not valid."]}, 400)
        if not re.fullmatch(r"\d+", page_raw):
            return _json({"Result": False, "Errors": {"Param": {"get": "Invalid value for _page"}}}, 400)
        size, number = int(size_raw), int(page_raw)
        items = state.partners.list(partner_id, query)
        return _json(
            {"Result": True, "Items": items[number * size : (number + 1) * size], "Total": len(items)}
        )

    @app.get("/account/{account_id}", summary="Get one account", tags=["Partner accounts"], **common)
    async def get_account(request: Request, account_id: str) -> JSONResponse:
        partner_id = partner(request)
        if partner_id is None:
            return _json(_NOT_A_PARTNER, 403)
        record = state.partners.get(account_id, partner_id)
        if record is None:
            return _json(_NOT_FOUND, 404)
        return _json({"Result": True, "Items": [record], "Total": 1})

    @app.post("/account", summary="Provision an account", tags=["Partner accounts"], **common)
    async def create_account(request: Request) -> JSONResponse:
        partner_id = partner(request)
        if partner_id is None:
            return _json(_NOT_A_PARTNER, 403)
        result = state.partners.create(partner_id, dict(request.scope.get(FORM_SCOPE_KEY, {})))
        if isinstance(result, str):
            return _json({"Result": False, "Errors": {"Param": {"post": result}}}, 400)
        if state.partners.create_answer == "account":
            return _json({"Result": True, "Account": result})
        return _json({"Result": True, "Items": [result], "Total": 1})

    writes = ["POST", "PUT", "PATCH", "DELETE"]

    @app.api_route("/account/{rest:path}", methods=writes, include_in_schema=False)
    async def unsupported(request: Request) -> JSONResponse:
        return _json({"Result": False, "Errors": []}, 404)


__all__ = ["add_partner_routes"]
