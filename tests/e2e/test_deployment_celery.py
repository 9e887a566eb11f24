"""A bulk onboarding of 50 CNAMEs on a real CeleryExecutor deployment shaped like the official docker-compose.

Scheduler, dag-processor, api-server, triggerer and two ``airflow celery worker`` processes, each worker with
an ``AIRFLOW_HOME`` of its own (as containers have) and its own ``--celery-hostname``, a real
``redis-server`` as the broker, and NOTHING set for the budget (``e2e_celery``). The sandbox enforces
Oktopost's real limits: 60 calls a minute, then a 15-minute block. The budget finds the broker's Redis by
itself (``budget_store = auto``): 0 x 429, exactly one valid integration per CNAME. The control forces the
budget per process on the workers (``budget_store = memory``, each task process alone, as a per-container
file would be across containers): the same onboarding gets 429s.

Run with ``pytest tests/e2e/test_deployment_celery.py -m e2e``; it takes about seven minutes (6 min 41 s on
the 2-core machine beside other work: start 37 s, onboarding 286 s, control 47 s, stop 31 s).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from e2e_celery import WORKERS, CeleryDeployment
from e2e_deployment import running
from e2e_runs import assert_each_cname_onboarded_once, assert_the_control_gets_429s, onboard_at_the_limits

from airflow_provider_oktopost.testing.client import SandboxClient

pytestmark = pytest.mark.e2e

CNAMES = [f"0CNe2ecelery{n:03d}" for n in range(50)]
CONTROL_CNAMES = [f"0CNe2econtrol{n:03d}" for n in range(50)]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryDeployment]:
    """The Celery deployment of this module (named ``deployment``: the e2e conftest's fixtures and failure
    report use it)."""
    with running(CeleryDeployment(tmp_path_factory.mktemp("e2e-celery"), validation_delay=12.0)) as deployed:
        yield deployed


def _received(deployment: CeleryDeployment, name: str) -> int:
    return deployment.components[name].log_path.read_text(errors="replace").count(" received")


def test_fifty_cnames_onboard_inside_the_limit_on_celery_with_nothing_set(
    deployment: CeleryDeployment, sandbox: SandboxClient
) -> None:
    import redis

    env = deployment.airflow_env()
    assert not [name for name in env if name.startswith("AIRFLOW__OKTOPOST__")]  # nothing set for the budget
    before = sandbox.count()
    started = time.monotonic()
    watch = onboard_at_the_limits(deployment, sandbox, CNAMES)
    took = time.monotonic() - started

    assert_each_cname_onboarded_once(deployment, sandbox, watch, CNAMES)
    # Both workers (two "containers") ran tasks; the budget they shared lives in the broker's Redis, under
    # its own keys, and no home kept a budget file of its own.
    assert all(_received(deployment, name) > 0 for name in WORKERS), [
        _received(deployment, n) for n in WORKERS
    ]
    keys = [key.decode() for key in redis.Redis.from_url(deployment.broker_url).keys("oktopost:*")]
    assert any(key.endswith(":days") for key in keys), keys
    assert not list(deployment.root.rglob("budget.sqlite3"))
    said = [
        line
        for path in (deployment.home / "logs").rglob("*.log*")
        for line in path.read_text(errors="replace").splitlines()
        if "The Oktopost call budget uses RedisStore" in line
    ]
    assert said and all("uses the Redis broker" in line for line in said), said[:3]
    calls = sandbox.count() - before
    print(f"\n{len(CNAMES)} CNAMEs on Celery in {took:.0f} s with {calls} calls, 0 x 429")


def test_the_control_with_the_budget_per_process_gets_429s(
    deployment: CeleryDeployment, sandbox: SandboxClient
) -> None:
    """The same onboarding with each task process keeping its own budget: the account is refused."""
    deployment.overrides = {"AIRFLOW__OKTOPOST__BUDGET_STORE": "memory"}
    deployment.restart_workers()
    started = time.monotonic()
    assert_the_control_gets_429s(deployment, sandbox, CONTROL_CNAMES)
    print(f"\ncontrol: first 429 after {time.monotonic() - started:.0f} s")
