"""``OktopostSandbox``: the sandbox app served by uvicorn in a background thread.

Tests talk to it over real HTTP, so the provider's own HTTP stack (sessions, timeouts, retries, error
parsing) is exercised, not mocked; the test thread meanwhile inspects and steers the same
:class:`.SandboxState` through the methods below ("patch time, not the network").

We bind the listening socket ourselves, before the thread starts, and hand it to uvicorn: a port that
is taken then fails in the caller with a plain ``OSError`` (uvicorn would ``sys.exit`` inside the
thread), and the real port of ``port=0`` is known at once. uvicorn is pinned to its pure-Python
``h11`` protocol and the stdlib event loop, so the wire behaviour (notably of ``drop`` faults) is the
same wherever the package is installed, whether or not ``httptools``/``uvloop`` are present.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import uvicorn

from airflow_provider_oktopost.testing._app import create_app
from airflow_provider_oktopost.testing._records import DEFAULT_CNAME_ID
from airflow_provider_oktopost.testing.config import UNSET, SandboxConfig, Unset
from airflow_provider_oktopost.testing.faults import CHAOS_KINDS, Fault, LoggedRequest
from airflow_provider_oktopost.testing.state import DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY, SandboxState

CONNECTION_ENV_VAR = "AIRFLOW_CONN_OKTOPOST_DEFAULT"


class OktopostSandbox:
    """A running (after :meth:`start`) in-memory Oktopost API on ``host:port``; a context manager.

    Every state method delegates to ``state``; see :class:`.SandboxState` for the details.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        api_key: str = DEFAULT_API_KEY,
        validation_delay: float = 0.0,
        rate_limit_per_minute: int | None = 60,
        block_seconds: float = 900.0,
        log_level: str = "warning",
        id_seed: int | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        rate_window_seconds: float = 60.0,
    ) -> None:
        #: With a certificate (PEM chain) and its key, the sandbox serves HTTPS (tests of private CAs).
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.host = host
        self.requested_port = port
        self.log_level = log_level
        self.state = SandboxState(
            account_id,
            api_key,
            validation_delay=validation_delay,
            rate_limit_per_minute=rate_limit_per_minute,
            block_seconds=block_seconds,
            id_seed=id_seed,
            rate_window_seconds=rate_window_seconds,
        )
        self.app = create_app(self.state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> OktopostSandbox:
        """Serve in a daemon thread; returns once the socket accepts connections."""
        if self._thread is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say they are TCP, and
        # without it every response costs a ~40 ms delayed-ACK round trip.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
        except OSError:
            sock.close()
            raise
        level = logging.getLevelNamesMapping().get(self.log_level.upper(), logging.WARNING)
        config = uvicorn.Config(
            self.app,
            log_level=level,
            log_config=None,  # leave the host process's logging setup alone
            access_log=level <= logging.INFO,
            lifespan="off",
            http="h11",
            loop="asyncio",
            ws="none",
            proxy_headers=False,
            timeout_graceful_shutdown=1,
            ssl_certfile=self.ssl_certfile,
            ssl_keyfile=self.ssl_keyfile,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="oktopost-sandbox", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError("the Oktopost sandbox did not start (see the uvicorn log above)")
            time.sleep(0.005)
        self._server, self._thread, self._port = server, thread, sock.getsockname()[1]
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: in-flight delayed requests are cut short, so this takes well under a second."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.state.interrupt()
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._server = self._thread = None
        self._port = None

    def __enter__(self) -> OktopostSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The real port (useful with ``port=0``)."""
        if self._port is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """Root URL, where ``/_sandbox`` and ``/openapi.json`` live."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_certfile else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """API base URL, ending in ``/v2`` (what the provider's connection ``host`` should be)."""
        return f"{self.url}/v2"

    @property
    def account_id(self) -> str:
        """Basic-auth username of the main account."""
        return self.state.account_id

    @property
    def api_key(self) -> str:
        """Basic-auth password of the main account."""
        return self.state.api_key

    def connection_dict(self) -> dict[str, Any]:
        """An Airflow connection pointing at this sandbox, as a dict."""
        return {
            "conn_type": "oktopost",
            "login": self.account_id,
            "password": self.api_key,
            "host": self.base_url,
        }

    def connection_json(self) -> str:
        """The same as JSON, ready for ``AIRFLOW_CONN_OKTOPOST_DEFAULT``."""
        return json.dumps(self.connection_dict())

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not running"
        return f"OktopostSandbox({where})"

    # -- state, delegated ---------------------------------------------------------------------------

    def reset(self, *, restore_config: bool = False) -> None:
        """See :meth:`.SandboxState.reset`."""
        self.state.reset(restore_config=restore_config)

    @property
    def config(self) -> SandboxConfig:
        """See :attr:`.SandboxState.config`."""
        return self.state.config

    def configure(
        self,
        *,
        validation_delay: float | Unset = UNSET,
        rate_limit_per_minute: int | Unset | None = UNSET,
        block_seconds: float | Unset = UNSET,
        forbidden_keys: Iterable[str] | Unset = UNSET,
        rate_window_seconds: float | Unset = UNSET,
    ) -> SandboxConfig:
        """See :meth:`.SandboxState.configure`."""
        return self.state.configure(
            validation_delay=validation_delay,
            rate_limit_per_minute=rate_limit_per_minute,
            block_seconds=block_seconds,
            forbidden_keys=forbidden_keys,
            rate_window_seconds=rate_window_seconds,
        )

    def add_account(self, account_id: str, api_key: str) -> None:
        """See :meth:`.SandboxState.add_account`."""
        self.state.add_account(account_id, api_key)

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
        """See :meth:`.SandboxState.add_integration`."""
        return self.state.add_integration(
            type,
            cname_id,
            status=status,
            state=state,
            settings=settings,
            created=created,
            account_id=account_id,
        )

    def add_cname(self, name: str, account_id: str | None = None) -> dict[str, Any]:
        """Store a CNAME directly (no API call, no name rules, not logged) and return its record."""
        return self.state.cnames.add(name, account_id)

    @property
    def cnames(self) -> list[dict[str, Any]]:
        """Every account's CNAMEs, in creation order."""
        return self.state.cnames.list()

    @property
    def integrations(self) -> list[dict[str, Any]]:
        """See :attr:`.SandboxState.integrations`."""
        return self.state.integrations

    def get(self, integration_id: str) -> dict[str, Any] | None:
        """See :meth:`.SandboxState.get`."""
        return self.state.get(integration_id)

    def set_status(self, integration_id: str, status: str | None) -> None:
        """See :meth:`.SandboxState.set_status`."""
        self.state.set_status(integration_id, status)

    def hold_validation(self, hold: bool = True) -> None:
        """See :meth:`.SandboxState.hold_validation`."""
        self.state.hold_validation(hold)

    def release_validation(self, cname_id: str | None = None) -> list[str]:
        """See :meth:`.SandboxState.release_validation`."""
        return self.state.release_validation(cname_id)

    def set_state(self, integration_id: str, state: str) -> None:
        """See :meth:`.SandboxState.set_state`."""
        self.state.set_state(integration_id, state)

    def inject(self, *faults: Fault) -> None:
        """See :meth:`.SandboxState.inject`."""
        self.state.inject(*faults)

    @property
    def pending_faults(self) -> list[Fault]:
        """See :attr:`.SandboxState.pending_faults`."""
        return self.state.pending_faults

    def clear_faults(self) -> None:
        """See :meth:`.SandboxState.clear_faults`."""
        self.state.clear_faults()

    def set_chaos(self, rate: float, seed: int | None = None, kinds: Sequence[str] = CHAOS_KINDS) -> None:
        """See :meth:`.SandboxState.set_chaos`."""
        self.state.set_chaos(rate, seed, kinds)

    def advance(self, seconds: float) -> float:
        """See :meth:`.SandboxState.advance`."""
        return self.state.advance(seconds)

    def now(self) -> float:
        """See :meth:`.SandboxState.now`."""
        return self.state.now()

    @property
    def requests(self) -> list[LoggedRequest]:
        """See :attr:`.SandboxState.requests`."""
        return self.state.requests

    def clear_requests(self) -> None:
        """See :meth:`.SandboxState.clear_requests`."""
        self.state.clear_requests()

    def count(self, method: str | None = None, path_regex: str | None = None) -> int:
        """See :meth:`.SandboxState.count`."""
        return self.state.count(method, path_regex)

    @property
    def rate_limited_count(self) -> int:
        """See :attr:`.SandboxState.rate_limited_count`."""
        return self.state.rate_limited_count

    def stats(self) -> dict[str, Any]:
        """See :meth:`.SandboxState.stats`."""
        return self.state.stats()

    # -- partners and many accounts (the same names as SandboxClient's) ----------------------------------

    def add_partner(self, account_id: str, api_key: str) -> None:
        """Accept a partner's Account ID and key: it may call the ``/account`` routes."""
        self.state.add_partner(account_id, api_key)

    @property
    def partner_url(self) -> str:
        """The partner API's root (no ``/v2``), like ``https://reseller.oktopost.com``."""
        return self.url

    @property
    def managed_accounts(self) -> list[dict[str, Any]]:
        """Every partner's managed accounts (``/account`` records), in creation order."""
        return self.state.partners.list()

    def add_managed_account(
        self, partner_id: str, company: str, *, external_id: str | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        """Add a managed account to ``partner_id`` directly (as if created earlier); returns its record."""
        return self.state.partners.add(partner_id, company, external_id=external_id, account_id=account_id)

    def plan_account(self, external_id: str, account_id: str, api_key: str | None = None) -> None:
        """The account created for ``external_id`` gets Id ``account_id`` and accepts ``api_key``."""
        self.state.partners.plan(external_id, account_id, api_key)

    def set_create_answer(self, create_answer: str) -> None:
        """``items`` (the get envelope) or ``account`` (an ``Account`` object) for ``POST /account``."""
        if create_answer not in ("items", "account"):
            raise ValueError("create_answer must be 'items' or 'account'")
        self.state.partners.create_answer = "items" if create_answer == "items" else "account"

    def set_account_rate_limit(self, account_id: str, per_minute: int | None) -> None:
        """Give one account its own calls per minute (``None``: no limit of its own); the window is shared."""
        self.state.set_account_rate_limit(account_id, per_minute)

    def block_account(self, account_id: str, seconds: float) -> None:
        """Block one account for ``seconds``, as after a burst: its calls get 429, other accounts' do not."""
        self.state.block_account(account_id, seconds)

    def rate_limited_by_account(self) -> dict[str, dict[str, int]]:
        """Per account: ``refused`` (429s sent) and ``over_limit`` (blocks a call over the window began)."""
        return self.state.rate_limited_by_account()

    def partner_connection_json(self) -> str:
        """An ``oktopost_partner`` connection for the sandbox's partner account, as JSON."""
        from airflow_provider_oktopost.testing._accounts import DEFAULT_PARTNER_ID, DEFAULT_PARTNER_KEY

        return json.dumps(
            {
                "conn_type": "oktopost_partner",
                "login": DEFAULT_PARTNER_ID,
                "password": DEFAULT_PARTNER_KEY,
                "host": self.partner_url,
            }
        )

    def account_connection_json(self, account_id: str, api_key: str) -> str:
        """An ``oktopost`` connection for another account of this sandbox, as JSON."""
        return json.dumps({**self.connection_dict(), "login": account_id, "password": api_key})
