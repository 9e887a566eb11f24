"""The two thin transports: ``requests`` for workers, ``httpx`` for the event loop.

They only turn an :class:`~.wire.ApiRequest` into bytes on the wire and the answer back into an
:class:`~.wire.ApiResponse` or a :class:`~.wire.TransportFailure`. Redirects are never followed (credentials
must not travel to another host), every request has a timeout, and exceptions are classified by whether the
request may have reached the server. ``requests`` and ``httpx`` are imported here, not at provider import,
so parsing a DAG file does not pay for them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import TYPE_CHECKING

from airflow_provider_oktopost import __version__
from airflow_provider_oktopost._core.config import ClientConfig
from airflow_provider_oktopost._core.wire import ApiRequest, ApiResponse, TransportFailure

if TYPE_CHECKING:
    import ssl

    import httpx
    import requests

USER_AGENT = f"airflow-provider-oktopost/{__version__}"


def basic_auth_header(config: ClientConfig) -> str:
    """The ``Authorization`` value; derived from the key, so callers must mask it as a secret too."""
    token = base64.b64encode(f"{config.account_id}:{config.api_key}".encode()).decode("ascii")
    return f"Basic {token}"


#: The only response headers the core reads.
KEPT_HEADERS = ("retry-after", "location")


def kept_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The response headers the core reads, lower-cased (one filter for both transports)."""
    return {k.lower(): v for k, v in headers if k.lower() in KEPT_HEADERS}


def _certificate_problem(exc: BaseException) -> str | None:
    """A message naming the TLS certificate problem behind ``exc``, if that is what it is."""
    import ssl

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(current):
            reason = getattr(current, "verify_message", None) or "certificate verify failed"
            return (
                f"TLS certificate problem: the server's certificate is not trusted ({reason}); set the "
                "connection's 'verify' extra to the CA bundle that signed it"
            )
        nxt = getattr(current, "reason", None)
        current = nxt if isinstance(nxt, BaseException) else (current.__cause__ or current.__context__)
        if current is None and exc.args and isinstance(exc.args[0], BaseException):
            current = exc.args[0] if id(exc.args[0]) not in seen else None
    return None


def _ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    """``httpx`` wants an ``SSLContext`` for a CA bundle (a path string is deprecated there)."""
    if isinstance(verify, str):
        import ssl

        return ssl.create_default_context(cafile=verify)
    return verify


def _headers(config: ClientConfig) -> dict[str, str]:
    return {
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        "Authorization": basic_auth_header(config),
    }


class RequestsTransport:
    """Sends over one ``requests.Session`` (keep-alive connection reuse for the hook's lifetime)."""

    def __init__(self, config: ClientConfig, session: requests.Session | None = None) -> None:
        import requests

        self.config = config
        self.session = session or requests.Session()
        self.session.headers.update(_headers(config))
        # No .netrc credentials replacing ours: the environment is read in one place (proxy_url) instead.
        self.session.trust_env = False
        proxy = config.proxy_url()
        if proxy:
            self.session.proxies = {"http": proxy, "https": proxy}
        self.session.verify = config.verify

    def __call__(self, request: ApiRequest) -> ApiResponse | TransportFailure:
        import requests

        url = self.config.base_url + request.path
        try:
            response = self.session.request(
                request.method,
                url,
                params=list(request.params) or None,
                data=list(request.form) or None,
                timeout=self.config.timeout,
                allow_redirects=False,
            )
            body = response.content
        except requests.exceptions.SSLError as exc:
            problem = _certificate_problem(exc) or f"TLS handshake failed ({type(exc).__name__})"
            return TransportFailure(problem, sent=False)
        except (requests.exceptions.ConnectTimeout, requests.exceptions.InvalidURL) as exc:
            return TransportFailure(f"could not connect ({type(exc).__name__})", sent=False)
        except requests.exceptions.ReadTimeout:
            return TransportFailure(f"no response within {self.config.timeout:g}s (read timeout)", sent=True)
        except requests.exceptions.ConnectionError as exc:
            sent = not _refused(exc)
            what = "connection dropped before a complete response" if sent else "could not connect"
            return TransportFailure(f"{what} ({type(exc).__name__})", sent=sent)
        except requests.exceptions.RequestException as exc:
            return TransportFailure(
                f"connection dropped before a complete response ({type(exc).__name__})", sent=True
            )
        return ApiResponse(
            status=response.status_code, body=body, headers=kept_headers(response.headers.items())
        )

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self.session.close()


def _refused(exc: BaseException) -> bool:
    """True when a ``requests`` ConnectionError happened while connecting (the request was never sent)."""
    import urllib3.exceptions

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            urllib3.exceptions.NewConnectionError
            | urllib3.exceptions.NameResolutionError
            | ConnectionRefusedError
            | urllib3.exceptions.ConnectTimeoutError,
        ):
            return True
        reason = getattr(current, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else None
        current = nxt or current.__cause__ or current.__context__
        if (
            current is None
            and exc.args
            and isinstance(exc.args[0], BaseException)
            and id(exc.args[0]) not in seen
        ):
            current = exc.args[0]
    return False


class HttpxTransport:
    """Sends over one ``httpx.AsyncClient`` (a connection pool per client, closed with :meth:`aclose`)."""

    def __init__(self, config: ClientConfig, client: httpx.AsyncClient | None = None) -> None:
        import httpx

        self.config = config
        # trust_env=False for the same reason as above; proxy and verify come from the config.
        self.client = client or httpx.AsyncClient(
            headers=_headers(config),
            timeout=config.timeout,
            follow_redirects=False,
            trust_env=False,
            proxy=config.proxy_url(),
            verify=_ssl_context(config.verify),
        )

    async def __call__(self, request: ApiRequest) -> ApiResponse | TransportFailure:
        import httpx

        url = self.config.base_url + request.path
        try:
            response = await self.client.request(
                request.method,
                url,
                params=list(request.params) or None,
                data=dict(request.form) if request.form else None,
                headers=None if self.client.headers.get("authorization") else _headers(self.config),
            )
        except (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
            httpx.UnsupportedProtocol,
        ) as exc:
            problem = _certificate_problem(exc)
            return TransportFailure(problem or f"could not connect ({type(exc).__name__})", sent=False)
        except httpx.TimeoutException:
            return TransportFailure(f"no response within {self.config.timeout:g}s (read timeout)", sent=True)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            return TransportFailure(
                f"connection dropped before a complete response ({type(exc).__name__})", sent=True
            )
        return ApiResponse(
            status=response.status_code,
            body=response.content,
            headers=kept_headers(response.headers.items()),
        )

    async def aclose(self) -> None:
        """Close the pooled HTTP connections."""
        await self.client.aclose()
