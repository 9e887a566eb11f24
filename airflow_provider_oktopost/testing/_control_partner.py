"""The ``/_sandbox`` control routes for partners and for many accounts (see :mod:`.accounts`).

The HTTP twin of :class:`.PartnerStore` and :class:`.AccountRules`, for a sandbox in another process (the
deployment tests); :class:`.SandboxClient` calls them. Like every control route: no auth, not logged.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from airflow_provider_oktopost.testing.state import SandboxState


class PartnerBody(BaseModel):
    """A partner's Basic-auth pair."""

    account_id: str
    api_key: str


class PlanBody(BaseModel):
    """The account created for ``external_id`` gets ``account_id`` and accepts ``api_key``."""

    external_id: str
    account_id: str
    api_key: str | None = None


class ManagedAccountBody(BaseModel):
    """Store a managed account directly (no API call, not logged)."""

    partner_id: str
    company: str
    external_id: str | None = None
    account_id: str | None = None


class LimitBody(BaseModel):
    """``null``: no limit for this account."""

    per_minute: int | None = Field(default=None, ge=1)


class BlockBody(BaseModel):
    """Seconds of 429 for one account."""

    seconds: float = Field(ge=0)


class AnswerBody(BaseModel):
    """How ``POST /account`` answers."""

    create_answer: Literal["items", "account"]


def partner_control_router(state: SandboxState) -> APIRouter:
    """Routes bound to ``state``; see the module docstring."""
    router = APIRouter(prefix="/_sandbox", tags=["Sandbox control"])

    @router.post("/partners", summary="Accept a partner account (may call /account)")
    def add_partner(body: PartnerBody) -> dict[str, Any]:
        state.add_partner(body.account_id, body.api_key)
        return {"ok": True}

    @router.get("/managed-accounts", summary="Every partner's managed accounts")
    def managed_accounts() -> list[dict[str, Any]]:
        return state.partners.list()

    @router.post("/managed-accounts", summary="Store a managed account directly")
    def add_managed_account(body: ManagedAccountBody) -> dict[str, Any]:
        try:
            return state.partners.add(
                body.partner_id, body.company, external_id=body.external_id, account_id=body.account_id
            )
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc

    @router.post("/managed-accounts/plan", summary="Plan the Id and key of the account for an external id")
    def plan(body: PlanBody) -> dict[str, Any]:
        state.partners.plan(body.external_id, body.account_id, body.api_key)
        return {"ok": True}

    @router.post("/managed-accounts/answer", summary="Answer creates with Items (default) or Account")
    def create_answer(body: AnswerBody) -> dict[str, Any]:
        state.partners.create_answer = body.create_answer
        return {"ok": True}

    @router.post("/accounts/{account_id}/rate-limit", summary="One account's own calls per minute")
    def set_limit(account_id: str, body: LimitBody) -> dict[str, Any]:
        state.set_account_rate_limit(account_id, body.per_minute)
        return {"ok": True}

    @router.post("/accounts/{account_id}/block", summary="Block one account with 429 for some seconds")
    def block(account_id: str, body: BlockBody) -> dict[str, Any]:
        try:
            state.block_account(account_id, body.seconds)
        except KeyError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        return {"ok": True}

    @router.get("/accounts/rate-limited", summary="429s per account: refused, and over_limit")
    def rate_limited() -> dict[str, dict[str, int]]:
        return state.rate_limited_by_account()

    return router


__all__ = ["partner_control_router"]
