"""The Redis URL's password never shows, and tests never touch a store they did not make.

Real processes and a real ``redis-server`` that requires the password; the pytest plugin is run the way a
user runs it, in a separate pytest process, with the deployment's configuration in its environment.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import airflow
import pytest
from budget_support import start_redis, stop
from budget_workers import task_process
from test_store_faults import UNSET_PLUGIN_STORE, _connection

from airflow_provider_oktopost._core.budget.account import account_key
from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore
from airflow_provider_oktopost._core.budget.redis_server import RedisStore
from airflow_provider_oktopost._core.budget.settings import BudgetSettings
from airflow_provider_oktopost.testing import OktopostSandbox

PASSWORD = "pw-Secret-4e7f1"
WRONG = "pw-Wrong-9a2c3"
REPO = Path(__file__).resolve().parents[2]
HIDE = ("--show-values", "--hide-sensitive")


def test_the_password_is_absent_from_every_output_even_debug_logs(
    oktopost_sandbox: OktopostSandbox, tmp_path: Path
) -> None:
    process, port = start_redis(tmp_path, "--requirepass", PASSWORD)
    try:
        spawn = multiprocessing.get_context("spawn")
        with spawn.Pool(1, maxtasksperchild=1) as pool:
            good, wrong = pool.starmap(
                task_process,
                [
                    (
                        _connection(oktopost_sandbox, budget_store=f"redis://:{pw}@127.0.0.1:{port}/0"),
                        2,
                        env,
                        0.0,
                    )
                    for pw, env in ((PASSWORD, UNSET_PLUGIN_STORE), (WRONG, UNSET_PLUGIN_STORE))
                ],
                chunksize=1,
            )
    finally:
        stop(process)
    assert good["outcomes"] == ["ok", "ok"] and not good["warnings"]  # the store answered
    assert "RedisStore('redis://:***@127.0.0.1" in good["all_logs"]  # the DEBUG logs say which store
    assert wrong["outcomes"] == ["ok", "ok"]  # a store that refuses the password never fails a task
    assert any("cannot be reached" in w and "AuthenticationError" in w for w in wrong["warnings"])
    for result in (good, wrong):
        seen = result["all_logs"] + "\n".join(result["warnings"] + result["outcomes"])
        assert PASSWORD not in seen and WRONG not in seen


def test_settings_and_errors_mask_the_password() -> None:
    url = f"rediss://oktopost:{PASSWORD}@redis.internal:6380/3?password={PASSWORD}&ssl_cert_reqs=none"
    settings = BudgetSettings(store=url)
    assert PASSWORD not in repr(settings) and "rediss://oktopost:***@redis.internal:6380/3" in repr(settings)
    assert PASSWORD not in repr(RedisStore(url))
    with pytest.raises(ValueError, match="budget_store must be") as bad:
        BudgetSettings(store=f"redis//:{PASSWORD}@redis.internal")  # a typo: not a URL at all
    assert PASSWORD not in str(bad.value)


@pytest.mark.airflow
@pytest.mark.skipif(
    tuple(int(p) for p in airflow.__version__.split(".")[:2]) < (3, 2),
    reason="airflow config list has --hide-sensitive from Airflow 3.2 (3.0 and 3.1 show every value)",
)
def test_airflow_config_list_hides_the_store(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__OKTOPOST__")}
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "config", "list", "--section", "oktopost", *HIDE],
        capture_output=True,
        text=True,
        env={
            **clean,
            "AIRFLOW_HOME": str(tmp_path),
            "AIRFLOW__OKTOPOST__BUDGET_STORE": f"redis://:{PASSWORD}@redis.internal:6379/0",
        },
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert "budget_store = < hidden >" in result.stdout


@pytest.mark.airflow
def test_the_default_gives_airflow_nothing_to_mask(tmp_path: Path) -> None:
    """The option is sensitive, so Airflow masks its value in every log: the default is empty, so that
    nothing is masked (and Airflow does not warn about a too-short secret at every start)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__OKTOPOST__")}
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "config", "get-value", "oktopost", "daily_limit"],
        capture_output=True,
        text=True,
        env={**clean, "AIRFLOW_HOME": str(tmp_path)},
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Skipping masking" not in result.stdout + result.stderr


LIVE = account_key("https://api.oktopost.com", "001live")


@pytest.mark.parametrize("shared", ["redis", "local"])
def test_the_pytest_plugin_leaves_a_live_block_in_the_deployments_store(
    shared: str, redis_url: str, tmp_path: Path
) -> None:
    """A developer runs their DAG tests with the deployment's configuration, while the deployment's
    store holds a live 15-minute block: the tests use a store of their own, and the block survives."""
    deployment_dir = tmp_path / "deployment-budget"
    store = RedisStore(redis_url) if shared == "redis" else LocalDiskStore(deployment_dir)
    store.block(LIVE, 900)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__OKTOPOST__")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("AIRFLOW_CONN_OKTOPOST_DEFAULT", None)
    if shared == "redis":
        env["AIRFLOW__OKTOPOST__BUDGET_STORE"] = redis_url
    else:
        env["AIRFLOW__OKTOPOST__BUDGET_STORE"] = "local"
        env["AIRFLOW__OKTOPOST__BUDGET_DIR"] = str(deployment_dir)
    suite = tmp_path / "users-tests"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (suite / "conftest.py").write_text(
        'pytest_plugins = ["airflow_provider_oktopost.testing.pytest_plugin"]\n'
    )
    (suite / "test_dags.py").write_text(
        textwrap.dedent(
            f"""
            import json

            from airflow_provider_oktopost.testing.budget import reset_budgets
            from airflow_provider_oktopost.hooks.oktopost import OktopostHook

            def test_calls(oktopost_connection_env, oktopost_private_budget):
                hook = OktopostHook()
                hook.get_me()
                assert str(hook._context.budget.store.path).startswith(oktopost_private_budget)
                reset_budgets()

            def test_with_the_deployments_store_in_the_connection(oktopost_sandbox, monkeypatch):
                # A connection whose extras name the deployment's store (they take precedence): the
                # budget uses that store, and the resets still never empty it.
                conn = oktopost_sandbox.connection_dict()
                conn["extra"] = {{"budget_store": "{"local" if shared == "local" else redis_url}",
                                 "budget_dir": "{deployment_dir}"}}
                monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
                reset_budgets()
                OktopostHook().get_me()
                reset_budgets()
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        check=False,
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    after = store.reserve(LIVE, limit=50, window=60, day_limit=20_000, max_wait=-1)
    assert not after.granted and after.blocked_for > 800  # the block is still there
