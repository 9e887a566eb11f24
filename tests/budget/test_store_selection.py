"""``budget_store = auto``: the store a deployment already shares, found with nothing set, and said.

The choice is read from Airflow's own configuration (the executor, ``[celery] broker_url``); the shapes are
those of the official docker-compose file and Helm chart (see docs/deploying.md). The processes here are
real (``spawn``), each with its own ``AIRFLOW_HOME`` like a container, and the Redis is a real server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from budget_support import BUDGET_LIMIT
from test_store_faults import UNSET_PLUGIN_STORE, _all_ok, _connection, _together

from airflow_provider_oktopost._core.budget.local_disk import FILE_NAME, file_system_of
from airflow_provider_oktopost._core.budget.selection import choose
from airflow_provider_oktopost._core.budget.settings import BudgetSettings
from airflow_provider_oktopost.testing import OktopostSandbox

#: Real processes; the logic does not depend on the Airflow minor (see the `heavy` marker).
pytestmark = pytest.mark.heavy

BROKER = "redis://:pw-Broker-77@redis:6379/0"


@pytest.mark.parametrize(
    ("executor", "broker", "spec", "isolated"),
    [
        ("CeleryExecutor", BROKER, BROKER, False),  # the official docker-compose file, the Helm chart
        ("airflow.providers.celery.executors.celery_executor.CeleryExecutor", BROKER, BROKER, False),
        ("LocalExecutor,CeleryExecutor", BROKER, BROKER, False),
        ("CeleryExecutor", "amqp://guest@rabbit//", "local", True),  # workers elsewhere, no Redis
        ("KubernetesExecutor", BROKER, "local", True),  # Airflow's default broker_url means nothing here
        ("LocalExecutor", BROKER, "local", False),  # airflow standalone, a single host
        ("", "", "local", False),
    ],
)
def test_auto_finds_the_store_the_deployment_shares(
    executor: str, broker: str, spec: str, isolated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    monkeypatch.setenv("AIRFLOW__CELERY__BROKER_URL", broker)
    choice = choose(BudgetSettings())
    assert (choice.spec, choice.isolated) == (spec, isolated)
    assert "pw-Broker-77" not in choice.reason
    assert choose(BudgetSettings(store="local")).spec == "local"  # a store that is named is used as named


def test_containers_of_a_celery_deployment_share_its_redis_with_nothing_set(
    fast_sandbox: OktopostSandbox, redis_url: str, tmp_path: Path
) -> None:
    """Two worker containers (two AIRFLOW_HOMEs, two task processes each), the CeleryExecutor's Redis as
    the broker, nothing set for the budget: one budget, in that Redis, under keys of its own."""
    import redis

    envs: list[dict[str, str | None]] = [
        {
            **UNSET_PLUGIN_STORE,
            "AIRFLOW_HOME": str(tmp_path / f"worker-{n // 2}"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": redis_url,
        }
        for n in range(4)
    ]
    client = redis.Redis.from_url(redis_url)
    client.lpush("default", "a queued Celery message")  # Celery's own keys are never touched
    results = _together(_connection(fast_sandbox), envs, calls=BUDGET_LIMIT)  # 4 x 8: four windows' worth
    _all_ok(results, fast_sandbox)
    for result in results:
        assert "The Oktopost call budget uses RedisStore('redis://127.0.0.1" in result["all_logs"]
        assert "uses the Redis broker" in result["all_logs"] and "(oktopost:*)" in result["all_logs"]
        assert not result["warnings"]
    keys = {k.decode() for k in client.keys("*")}
    assert client.lrange("default", 0, -1) == [b"a queued Celery message"]
    # Only the budget's own keys besides Celery's: one hash tag per account, and the index of known accounts.
    ours = keys - {"default"}
    assert ours and all(k.startswith("oktopost:{") or k == "oktopost:accounts" for k in ours)
    assert not list(tmp_path.rglob(FILE_NAME))  # no container kept a budget of its own
    client.delete("default")


def test_a_file_on_a_network_file_system_is_recognised() -> None:
    mounts = (
        "/dev/vda / ext4 rw 0 0\n"
        "server:/export /var/lib/airflow nfs4 rw 0 0\n"
        "/dev/vdb /var/lib/airflow/local ext4 rw 0 0\n"
    )
    assert file_system_of(Path("/var/lib/airflow/oktopost"), mounts) == "nfs4"
    assert file_system_of(Path("/var/lib/airflow/local/oktopost"), mounts) == "ext4"
    assert file_system_of(Path("/tmp"), mounts) == "ext4"
