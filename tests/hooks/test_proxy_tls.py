"""Issue 10: corporate networks, for real. The sandbox serves HTTPS with a certificate from a private CA
made by the test (``trustme``), and is reached through a real HTTP proxy process doing ``CONNECT``
(``proxy.py`` from PyPI, started here with Basic auth), from the hook (``requests``) and from the trigger
(``httpx``). A wrong CA fails with an error that says it is a certificate problem.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from airflow_provider_oktopost.exceptions import OktopostTransportError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.hooks.oktopost_async import OktopostAsyncClient, aget_client_config
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

PROXY_USER, PROXY_PASSWORD = "corp", "proxy-pass-5ecret"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_sandbox(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OktopostSandbox]:
    """The sandbox over HTTPS, with a certificate for 127.0.0.1 signed by the test's private CA."""
    folder = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    with OktopostSandbox(
        ssl_certfile=str(folder / "server.pem"), ssl_keyfile=str(folder / "server.pem")
    ) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A real forward proxy (``proxy.py``) on 127.0.0.1 that wants Basic auth; yields (port, its log)."""
    folder = tmp_path_factory.mktemp("proxy")
    port_file, log = folder / "port", folder / "proxy.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy",
                "--hostname",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--num-workers",
                "1",
                "--num-acceptors",
                "1",
                "--threaded",
                "--basic-auth",
                f"{PROXY_USER}:{PROXY_PASSWORD}",
                "--log-level",
                "INFO",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"proxy.py did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield int(port_file.read_text().strip()), log
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def sandbox(tls_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> OktopostSandbox:
    tls_sandbox.reset(restore_config=True)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return tls_sandbox


def _connect(monkeypatch: pytest.MonkeyPatch, sandbox: OktopostSandbox, **extra: Any) -> None:
    conn = dict(sandbox.connection_dict(), extra={"max_retries": 0, **extra})
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))


def _proxy_url(port: int) -> str:
    return f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}"


def _tunnels(log: Path, sandbox: OktopostSandbox, *, at_least: int = 0) -> int:
    """CONNECT tunnels to the sandbox in the proxy's access log (written when a tunnel closes)."""
    deadline = time.monotonic() + 5
    while True:
        count = log.read_text().count(f"CONNECT 127.0.0.1:{sandbox.port}")
        if count >= at_least or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def _ca_file(ca: trustme.CA, tmp_path: Path, name: str = "ca.pem") -> str:
    path = tmp_path / name
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def test_hook_through_the_proxy_extra_with_a_private_ca(
    sandbox: OktopostSandbox,
    proxy: tuple[int, Path],
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, log = proxy
    before = _tunnels(log, sandbox)
    _connect(monkeypatch, sandbox, proxy=_proxy_url(port), verify=_ca_file(ca, tmp_path))
    hook = OktopostHook()
    assert hook.get_me().account_id == sandbox.account_id
    hook.close()
    assert sandbox.base_url.startswith("https://")
    assert _tunnels(log, sandbox, at_least=before + 1) == before + 1  # it went through the proxy
    assert PROXY_PASSWORD in hook.config.secrets and PROXY_PASSWORD not in repr(hook.config)


def test_hook_through_the_standard_environment_variables(
    sandbox: OktopostSandbox,
    proxy: tuple[int, Path],
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, log = proxy
    _connect(monkeypatch, sandbox, verify=_ca_file(ca, tmp_path))
    monkeypatch.setenv("HTTPS_PROXY", _proxy_url(port))
    before = _tunnels(log, sandbox)
    hook = OktopostHook()
    hook.get_me()
    hook.close()
    assert _tunnels(log, sandbox, at_least=before + 1) == before + 1
    # NO_PROXY names the host: straight there, even with a proxy that does not exist.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    hook = OktopostHook()
    hook.get_me()
    hook.close()
    assert _tunnels(log, sandbox, at_least=before + 2) == before + 1


async def test_trigger_through_the_proxy_with_a_private_ca(
    sandbox: OktopostSandbox,
    proxy: tuple[int, Path],
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, log = proxy
    record = sandbox.add_integration()
    _connect(monkeypatch, sandbox, proxy=_proxy_url(port), verify=_ca_file(ca, tmp_path))
    before = _tunnels(log, sandbox)
    trigger = OktopostIntegrationTrigger(record["Id"], end_time=time.time() + 60)
    [event] = [e.payload async for e in trigger.run()]
    assert event["status"] == "success"
    assert _tunnels(log, sandbox, at_least=before + 1) >= before + 1
    assert PROXY_PASSWORD not in json.dumps(event) and PROXY_PASSWORD not in json.dumps(trigger.serialize())


async def test_a_wrong_ca_is_reported_as_a_certificate_problem(
    sandbox: OktopostSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connect(monkeypatch, sandbox, verify=_ca_file(trustme.CA(), tmp_path, "other-ca.pem"))
    with pytest.raises(OktopostTransportError, match="certificate"):
        OktopostHook().get_me()
    async with OktopostAsyncClient(await aget_client_config("oktopost_default")) as client:
        with pytest.raises(OktopostTransportError, match="certificate"):
            await client.get_me()
    # Without the extra, the system's CAs do not know the private CA either.
    _connect(monkeypatch, sandbox)
    with pytest.raises(OktopostTransportError, match="certificate"):
        OktopostHook().get_me()


def test_verify_off_works_with_a_loud_warning(
    sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _connect(monkeypatch, sandbox, verify="false")
    with caplog.at_level("WARNING", logger="airflow_provider_oktopost"):
        OktopostHook().get_me()
    assert any("verification is OFF" in r.getMessage() for r in caplog.records)


def test_netrc_never_replaces_the_connection_credentials(
    sandbox: OktopostSandbox, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login wrong-account password wrong-key\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    _connect(monkeypatch, sandbox, verify=_ca_file(ca, tmp_path))
    assert OktopostHook().get_me().account_id == sandbox.account_id
