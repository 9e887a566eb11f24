"""The real deployment the end-to-end tests share (one per module), and its logs on failure.

The deployment lives in a fresh tmp directory with its own ``AIRFLOW_HOME``; the throwaway home that
``tests/conftest.py`` sets for the in-process tests is never handed to it (every process gets an explicit
environment). Whatever happens, the finalizer stops every process it started, by process group, and fails
the module's teardown if any process survived.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
from e2e_deployment import Deployment, running
from e2e_processes import DeploymentError

from airflow_provider_oktopost.testing.client import SandboxClient


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Sandbox, api-server, scheduler, dag-processor and triggerer, healthy, with the example DAGs listed.

    A module that needs another deployment (Celery, DEBUG logging, partner connections) defines its own
    fixture of this name, with :func:`e2e_deployment.running` too.
    """
    with running(Deployment(tmp_path_factory.mktemp("e2e-deployment"), validation_delay=12.0)) as deployed:
        yield deployed


@pytest.fixture(scope="module")
def sandbox(deployment: Deployment) -> Iterator[SandboxClient]:
    """Control client of the deployment's sandbox (a separate process)."""
    with SandboxClient(deployment.sandbox_url) as client:
        yield client


@pytest.fixture
def held(sandbox: SandboxClient) -> Iterator[SandboxClient]:
    """New integrations stay invalid until the test releases them (``e2e_runs``); afterwards nothing
    stays held."""
    sandbox.hold_validation()
    try:
        yield sandbox
    finally:
        sandbox.hold_validation(False)
        sandbox.release_validation()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failed assertion, add the tails of the component logs to the report.

    A ``DeploymentError`` (timeout, a component died) already carries them in its message.
    """
    report = yield
    deployed = getattr(item, "funcargs", {}).get("deployment")
    if (
        report.failed
        and deployed is not None
        and not (call.excinfo and call.excinfo.errisinstance(DeploymentError))
    ):
        report.sections.append(("deployment logs", deployed.diagnosis()))
    return report
