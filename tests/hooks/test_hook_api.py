"""OktopostHook over real HTTP against the sandbox: every endpoint, paging, typed results."""

from __future__ import annotations

import json
import math

import pytest

from airflow_provider_oktopost.exceptions import OktopostNotFoundError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.models import IntegrationState, IntegrationStatus
from airflow_provider_oktopost.testing import OktopostSandbox

LIST = r"/v2/integration"


def test_get_me(sandbox: OktopostSandbox) -> None:
    me = OktopostHook().get_me()
    assert me.account_id == sandbox.account_id
    assert me.account_name and me.user_name


def test_test_connection_reports_the_account(sandbox: OktopostSandbox) -> None:
    ok, message = OktopostHook().test_connection()
    assert ok
    assert message.startswith("Connected to Oktopost account ")
    assert sandbox.account_id in message


@pytest.mark.parametrize("n", [0, 1, 25, 100, 101, 250])
def test_iter_integrations_pages_through_everything(sandbox: OktopostSandbox, n: int) -> None:
    created = {sandbox.add_integration("cd", f"0CN{i:012d}")["Id"] for i in range(n)}
    sandbox.clear_requests()
    seen = [item.id for item in OktopostHook().iter_integrations()]
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))
    pages = [r for r in sandbox.requests if r.path == LIST]
    assert len(pages) == max(1, math.ceil(n / 100))
    assert [r.query["_page"] for r in pages] == [str(p) for p in range(len(pages))]
    assert all(r.query["_count"] == "100" for r in pages)


def test_list_one_page_with_filter(sandbox: OktopostSandbox) -> None:
    for i in range(30):
        sandbox.add_integration("cd", f"0CN{i:012d}")
    sandbox.add_integration("facebook", None)
    page = OktopostHook().list_integrations(type="cd", page=1, count=25)
    assert page.total == 30 and len(page.items) == 5 and page.page == 1
    assert {item.type for item in page.items} == {"cd"}
    assert sandbox.requests[-1].query == {"type": "cd", "_page": "1", "_count": "25"}


def test_get_integration_typed_with_assets(sandbox: OktopostSandbox) -> None:
    made = sandbox.add_integration("cd", "0CN000000000007", state="disabled")
    hook = OktopostHook()
    plain = hook.get_integration(made["Id"])
    assert plain.assets is None
    item = hook.get_integration(made["Id"], with_assets=True)
    assert item.id == made["Id"] and item.cname_id == "0CN000000000007" and item.type == "cd"
    assert item.state is IntegrationState.DISABLED and item.status is IntegrationStatus.VALID
    assert not item.is_ready
    assert item.created is not None and item.created.timezone_name == "UTC"
    assert item.assets is not None and item.assets["Credentials"] and "Boards" in item.assets
    assert sandbox.requests[-1].query == {"withAssets": "1"}


def test_connect_update_delete_lifecycle(sandbox: OktopostSandbox) -> None:
    hook = OktopostHook()
    created = hook.connect_integration("cd", "0CN000000000042", trackingId="UA-1", options={"utm": True})
    assert created.id.startswith("014") and len(created.id) == 15
    assert created.type == "cd" and created.cname_id == "0CN000000000042"
    post = sandbox.requests[-1]
    assert post.method == "POST" and post.form["cnameId"] == "0CN000000000042"
    assert json.loads(post.form["options"]) == {"utm": True}

    hook.update_integration(created.id, state="disabled")
    assert hook.get_integration(created.id).state is IntegrationState.DISABLED
    hook.update_integration(created.id, state="active", cname_id="0CN000000000043")
    after = hook.get_integration(created.id)
    assert after.is_ready and after.cname_id == "0CN000000000043"
    assert after.version is not None and after.version > 1

    hook.delete_integration(created.id)
    with pytest.raises(OktopostNotFoundError, match="HTTP 404"):
        hook.get_integration(created.id)
    assert sandbox.integrations == []


def test_find_integrations_matches_type_and_cname(sandbox: OktopostSandbox) -> None:
    wanted = sandbox.add_integration("cd", "0CN000000000001")
    sandbox.add_integration("cd", "0CN000000000002")
    sandbox.add_integration("ga", "0CN000000000001")
    found = OktopostHook().find_integrations("cd", "0CN000000000001")
    assert [item.id for item in found] == [wanted["Id"]]


def test_unknown_types_from_the_server_are_accepted(sandbox: OktopostSandbox) -> None:
    sandbox.add_integration("eloqua", "0CN000000000001")
    (item,) = OktopostHook().iter_integrations()
    assert item.type == "eloqua"


def test_new_integration_validates_after_a_delay(sandbox: OktopostSandbox) -> None:
    sandbox.configure(validation_delay=30)
    hook = OktopostHook()
    created = hook.connect_integration("cd", "0CN000000000042")
    assert hook.get_integration(created.id).status is IntegrationStatus.INVALID
    sandbox.advance(31)
    assert hook.get_integration(created.id).is_ready


def test_one_session_per_hook(sandbox: OktopostSandbox) -> None:
    hook = OktopostHook()
    session = hook.get_conn()
    hook.get_me()
    hook.list_integrations()
    assert hook.get_conn() is session
    assert session.headers["User-Agent"].startswith("airflow-provider-oktopost/")
    hook.close()


def test_hooks_of_one_account_share_one_budget(sandbox: OktopostSandbox) -> None:
    assert OktopostHook()._context.budget is OktopostHook()._context.budget
