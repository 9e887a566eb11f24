"""The ``/_sandbox`` control routes: the HTTP twin of the :class:`.SandboxState` Python API.

They let a test drive a sandbox that runs in another process (``python -m
airflow_provider_oktopost.testing``, an Airflow deployment under test, a container), through
:class:`airflow_provider_oktopost.testing.client.SandboxClient`. They need no auth and are not logged:
they are not part of the Oktopost API, and the request log must show only what a client sent to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from airflow_provider_oktopost.testing._records import DEFAULT_CNAME_ID
from airflow_provider_oktopost.testing.faults import CHAOS_KINDS, Fault, FaultKind
from airflow_provider_oktopost.testing.state import SandboxState


class ResetBody(BaseModel):
    """``restore_config`` also returns to the config the sandbox started with."""

    restore_config: bool = False


class ConfigBody(BaseModel):
    """Only the fields sent are changed; ``rate_limit_per_minute: null`` disables the limiter."""

    validation_delay: float | None = Field(default=None, ge=0)
    rate_limit_per_minute: int | None = Field(default=None, ge=1)
    block_seconds: float | None = Field(default=None, ge=0)
    forbidden_keys: list[str] | None = None
    rate_window_seconds: float | None = Field(default=None, gt=0)


class AccountBody(BaseModel):
    """Another Basic-auth pair the sandbox accepts."""

    account_id: str
    api_key: str


class FaultBody(BaseModel):
    """Same fields as :class:`airflow_provider_oktopost.testing.faults.Fault`."""

    kind: FaultKind
    method: str | None = None
    path: str | None = None
    times: int | None = 1
    status: int | None = None
    body: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    delay_seconds: float = 0.0
    location: str | None = None


class ChaosBody(BaseModel):
    """``rate`` 0 turns chaos off; ``kinds`` defaults to every chaos kind."""

    rate: float = Field(ge=0, le=1)
    seed: int | None = None
    kinds: list[str] = Field(default_factory=lambda: list(CHAOS_KINDS))


class AdvanceBody(BaseModel):
    """Seconds to move the sandbox clock forward."""

    seconds: float = Field(ge=0)


class IntegrationBody(BaseModel):
    """Same arguments as ``SandboxState.add_integration`` (``created``: epoch seconds or ISO time)."""

    type: str = "cd"
    cname_id: str | None = DEFAULT_CNAME_ID
    status: str | None = None
    state: str = "active"
    settings: dict[str, Any] | None = None
    created: float | datetime | None = None
    account_id: str | None = None


class StatusBody(BaseModel):
    """``null`` returns to time-based validation."""

    status: str | None


class HoldBody(BaseModel):
    """``true``: integrations created from now on stay invalid until released."""

    hold: bool = True


class ReleaseBody(BaseModel):
    """``null``: release every held integration."""

    cname_id: str | None = None


class StateBody(BaseModel):
    """Any string; the API's own ``active``/``disabled`` check is bypassed on purpose."""

    state: str


def _validation_routes(router: APIRouter, state: SandboxState) -> None:
    """Hold and release validation: the test decides when an integration turns valid."""

    @router.post("/validation/hold", summary="Hold new integrations invalid until released")
    def hold_validation(body: HoldBody) -> dict[str, Any]:
        state.hold_validation(body.hold)
        return {"ok": True}

    @router.post("/validation/release", summary="Turn held integrations valid (all, or one CNAME's)")
    def release_validation(body: ReleaseBody) -> dict[str, Any]:
        return {"released": state.release_validation(body.cname_id)}


def control_router(state: SandboxState) -> APIRouter:
    """Routes bound to ``state``; see the module docstring."""
    router = APIRouter(prefix="/_sandbox", tags=["Sandbox control"])

    def missing(integration_id: str) -> HTTPException:
        return HTTPException(status_code=404, detail=f"no integration {integration_id!r} in the sandbox")

    @router.post("/reset", summary="Forget integrations, faults, chaos, log, counters, clock offset")
    def reset(body: ResetBody | None = None) -> dict[str, Any]:
        state.reset(restore_config=body.restore_config if body else False)
        return {"ok": True}

    @router.get("/config", summary="Current behaviour settings")
    def get_config() -> dict[str, Any]:
        return state.config.to_dict()

    @router.post("/config", summary="Change behaviour settings")
    def configure(body: ConfigBody) -> dict[str, Any]:
        try:
            return state.configure(**body.model_dump(exclude_unset=True)).to_dict()
        except (TypeError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc

    @router.post("/accounts", summary="Accept another account id / API key pair")
    def add_account(body: AccountBody) -> dict[str, Any]:
        state.add_account(body.account_id, body.api_key)
        return {"ok": True}

    @router.get("/faults", summary="Pending injected faults")
    def get_faults() -> list[dict[str, Any]]:
        return [fault.to_dict() for fault in state.pending_faults]

    @router.post("/faults", summary="Inject one fault or a list of faults")
    def inject(body: FaultBody | list[FaultBody]) -> dict[str, Any]:
        items = body if isinstance(body, list) else [body]
        try:
            faults = [Fault.from_dict(item.model_dump()) for item in items]
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        state.inject(*faults)
        return {"ok": True, "pending": len(state.pending_faults)}

    @router.delete("/faults", summary="Drop every pending fault")
    def clear_faults() -> dict[str, Any]:
        state.clear_faults()
        return {"ok": True}

    @router.post("/chaos", summary="Turn chaos mode on (rate > 0) or off (rate 0)")
    def set_chaos(body: ChaosBody) -> dict[str, Any]:
        try:
            state.set_chaos(body.rate, body.seed, body.kinds)
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return {"ok": True}

    @router.get("/clock", summary="Sandbox time (epoch seconds) and offset from real time")
    def clock() -> dict[str, Any]:
        return {"now": state.now(), "offset": state.clock_offset}

    @router.post("/clock/advance", summary="Move the sandbox clock forward")
    def advance(body: AdvanceBody) -> dict[str, Any]:
        return {"now": state.advance(body.seconds), "offset": state.clock_offset}

    @router.get("/integrations", summary="Every integration, with its current computed status")
    def integrations() -> list[dict[str, Any]]:
        return state.integrations

    @router.post("/integrations", summary="Add an integration directly (no API call, not logged)")
    def add_integration(body: IntegrationBody) -> dict[str, Any]:
        return state.add_integration(**body.model_dump())

    @router.get("/integrations/{integration_id}", summary="One integration")
    def get_integration(integration_id: str) -> dict[str, Any]:
        record = state.get(integration_id)
        if record is None:
            raise missing(integration_id)
        return record

    @router.post("/integrations/{integration_id}/status", summary="Force Status (null: back to automatic)")
    def set_status(integration_id: str, body: StatusBody) -> dict[str, Any]:
        try:
            state.set_status(integration_id, body.status)
        except KeyError as exc:
            raise missing(integration_id) from exc
        return {"ok": True}

    _validation_routes(router, state)

    @router.post("/integrations/{integration_id}/state", summary="Set State directly")
    def set_state(integration_id: str, body: StateBody) -> dict[str, Any]:
        try:
            state.set_state(integration_id, body.state)
        except KeyError as exc:
            raise missing(integration_id) from exc
        return {"ok": True}

    @router.get("/requests", summary="The /v2 request log (never contains credentials)")
    def requests() -> list[dict[str, Any]]:
        return [entry.to_dict() for entry in state.requests]

    @router.delete("/requests", summary="Empty the request log")
    def clear_requests() -> dict[str, Any]:
        state.clear_requests()
        return {"ok": True}

    @router.get("/stats", summary="Counters: requests, rate_limited_count, integrations, ...")
    def stats() -> dict[str, Any]:
        return state.stats()

    return router
