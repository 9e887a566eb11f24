"""``SandboxClient``: drive a sandbox in another process through its ``/_sandbox`` control routes.

End-to-end tests run the sandbox next to a real Airflow deployment (``python -m
airflow_provider_oktopost.testing``), so they cannot reach its :class:`.SandboxState` in memory. This
client offers the same names as :class:`.OktopostSandbox` (properties included), so a helper written
against one works with the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, cast

import requests

from airflow_provider_oktopost.testing._records import DEFAULT_CNAME_ID
from airflow_provider_oktopost.testing.faults import CHAOS_KINDS, Fault, LoggedRequest, count_requests


class SandboxClient:
    """Control-route client for the sandbox at ``root_url`` (``http://host:port``; ``/v2`` is ignored)."""

    def __init__(self, root_url: str, timeout: float = 10.0, session: requests.Session | None = None) -> None:
        root = root_url.rstrip("/")
        self.root_url = root.removesuffix("/v2")
        self.timeout = timeout
        self.session = session or requests.Session()

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        response = self.session.request(
            method, f"{self.root_url}/_sandbox{path}", json=payload, timeout=self.timeout
        )
        if not response.ok:
            raise requests.HTTPError(
                f"sandbox control call {method} {path} failed: {response.status_code} {response.text}",
                response=response,
            )
        return response.json()

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def reset(self, *, restore_config: bool = False) -> None:
        """``POST /_sandbox/reset``."""
        self._call("POST", "/reset", {"restore_config": restore_config})

    def configure(self, **changes: float | Iterable[str] | None) -> dict[str, Any]:
        """``POST /_sandbox/config`` with any of validation_delay, rate_limit_per_minute (``None``
        disables the limiter), block_seconds, forbidden_keys; returns the resulting config."""
        payload = {k: v if isinstance(v, float | int | None) else sorted(v) for k, v in changes.items()}
        return cast(dict[str, Any], self._call("POST", "/config", payload))

    @property
    def config(self) -> dict[str, Any]:
        """``GET /_sandbox/config``."""
        return cast(dict[str, Any], self._call("GET", "/config"))

    def add_account(self, account_id: str, api_key: str) -> None:
        """``POST /_sandbox/accounts``."""
        self._call("POST", "/accounts", {"account_id": account_id, "api_key": api_key})

    def add_integration(
        self,
        type: str = "cd",
        cname_id: str | None = DEFAULT_CNAME_ID,
        *,
        status: str | None = None,
        state: str = "active",
        settings: Mapping[str, Any] | None = None,
        created: datetime | float | None = None,
        account_id: str | None = None,
    ) -> dict[str, Any]:
        """``POST /_sandbox/integrations``; returns the stored record."""
        payload = {
            "type": type,
            "cname_id": cname_id,
            "status": status,
            "state": state,
            "settings": dict(settings) if settings is not None else None,
            "created": created.isoformat() if isinstance(created, datetime) else created,
            "account_id": account_id,
        }
        return cast(dict[str, Any], self._call("POST", "/integrations", payload))

    @property
    def integrations(self) -> list[dict[str, Any]]:
        """``GET /_sandbox/integrations``."""
        return cast(list[dict[str, Any]], self._call("GET", "/integrations"))

    @property
    def cnames(self) -> list[dict[str, Any]]:
        """``GET /_sandbox/cnames``."""
        return cast(list[dict[str, Any]], self._call("GET", "/cnames"))

    def add_cname(self, name: str, account_id: str | None = None) -> dict[str, Any]:
        """``POST /_sandbox/cnames``: store a CNAME directly."""
        return cast(dict[str, Any], self._call("POST", "/cnames", {"name": name, "account_id": account_id}))

    def get(self, integration_id: str) -> dict[str, Any] | None:
        """``GET /_sandbox/integrations/{id}``, ``None`` when it does not exist."""
        try:
            return cast(dict[str, Any], self._call("GET", f"/integrations/{integration_id}"))
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                return None
            raise

    def set_status(self, integration_id: str, status: str | None) -> None:
        """``POST /_sandbox/integrations/{id}/status``."""
        self._call("POST", f"/integrations/{integration_id}/status", {"status": status})

    def hold_validation(self, hold: bool = True) -> None:
        """``POST /_sandbox/validation/hold``: new integrations stay invalid until released."""
        self._call("POST", "/validation/hold", {"hold": hold})

    def release_validation(self, cname_id: str | None = None) -> list[str]:
        """``POST /_sandbox/validation/release``: held integrations (all, or on ``cname_id``) turn valid."""
        released: list[str] = self._call("POST", "/validation/release", {"cname_id": cname_id})["released"]
        return released

    def set_state(self, integration_id: str, state: str) -> None:
        """``POST /_sandbox/integrations/{id}/state``."""
        self._call("POST", f"/integrations/{integration_id}/state", {"state": state})

    def inject(self, *faults: Fault | Mapping[str, Any]) -> None:
        """``POST /_sandbox/faults``; accepts :class:`.Fault` objects or their dict form."""
        payload = [f.to_dict() if isinstance(f, Fault) else dict(f) for f in faults]
        self._call("POST", "/faults", payload)

    @property
    def pending_faults(self) -> list[Fault]:
        """``GET /_sandbox/faults``."""
        return [Fault.from_dict(item) for item in self._call("GET", "/faults")]

    def clear_faults(self) -> None:
        """``DELETE /_sandbox/faults``."""
        self._call("DELETE", "/faults")

    def set_chaos(self, rate: float, seed: int | None = None, kinds: Sequence[str] = CHAOS_KINDS) -> None:
        """``POST /_sandbox/chaos``."""
        self._call("POST", "/chaos", {"rate": rate, "seed": seed, "kinds": list(kinds)})

    def advance(self, seconds: float) -> float:
        """``POST /_sandbox/clock/advance``; returns the new sandbox time."""
        return float(self._call("POST", "/clock/advance", {"seconds": seconds})["now"])

    def now(self) -> float:
        """``GET /_sandbox/clock``."""
        return float(self._call("GET", "/clock")["now"])

    @property
    def requests(self) -> list[LoggedRequest]:
        """``GET /_sandbox/requests``."""
        return [LoggedRequest.from_dict(item) for item in self._call("GET", "/requests")]

    def clear_requests(self) -> None:
        """``DELETE /_sandbox/requests``."""
        self._call("DELETE", "/requests")

    def count(self, method: str | None = None, path_regex: str | None = None) -> int:
        """Like :meth:`.SandboxState.count`, computed here from the fetched log."""
        return count_requests(self.requests, method, path_regex)

    @property
    def rate_limited_count(self) -> int:
        """From ``GET /_sandbox/stats``."""
        return int(self.stats()["rate_limited_count"])

    def stats(self) -> dict[str, Any]:
        """``GET /_sandbox/stats``."""
        return cast(dict[str, Any], self._call("GET", "/stats"))

    # -- partners and many accounts (control_partner) ---------------------------------------------------

    def add_partner(self, account_id: str, api_key: str) -> None:
        """``POST /_sandbox/partners``."""
        self._call("POST", "/partners", {"account_id": account_id, "api_key": api_key})

    @property
    def managed_accounts(self) -> list[dict[str, Any]]:
        """``GET /_sandbox/managed-accounts``."""
        return cast(list[dict[str, Any]], self._call("GET", "/managed-accounts"))

    def add_managed_account(
        self, partner_id: str, company: str, *, external_id: str | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        """``POST /_sandbox/managed-accounts``: store an account directly."""
        payload = {
            "partner_id": partner_id,
            "company": company,
            "external_id": external_id,
            "account_id": account_id,
        }
        return cast(dict[str, Any], self._call("POST", "/managed-accounts", payload))

    def plan_account(self, external_id: str, account_id: str, api_key: str | None = None) -> None:
        """``POST /_sandbox/managed-accounts/plan``."""
        payload = {"external_id": external_id, "account_id": account_id, "api_key": api_key}
        self._call("POST", "/managed-accounts/plan", payload)

    def set_create_answer(self, create_answer: str) -> None:
        """``POST /_sandbox/managed-accounts/answer``: ``items`` or ``account``."""
        self._call("POST", "/managed-accounts/answer", {"create_answer": create_answer})

    def set_account_rate_limit(self, account_id: str, per_minute: int | None) -> None:
        """``POST /_sandbox/accounts/{id}/rate-limit``."""
        self._call("POST", f"/accounts/{account_id}/rate-limit", {"per_minute": per_minute})

    def block_account(self, account_id: str, seconds: float) -> None:
        """``POST /_sandbox/accounts/{id}/block``."""
        self._call("POST", f"/accounts/{account_id}/block", {"seconds": seconds})

    def rate_limited_by_account(self) -> dict[str, dict[str, int]]:
        """``GET /_sandbox/accounts/rate-limited``."""
        return cast(dict[str, dict[str, int]], self._call("GET", "/accounts/rate-limited"))
