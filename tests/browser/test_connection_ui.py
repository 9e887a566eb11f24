"""The Oktopost connection form in Airflow's own UI, driven in headless Chromium against a real api-server.

What a user does: Admin -> Connections -> Add Connection (a modal), pick "Oktopost", fill the relabelled
fields, save, press Test on the saved connection, fix a wrong key, edit it again. The Test button runs the
hook's ``test_connection()`` inside the api-server process, against the in-process sandbox whose URL is put
in "Base URL (optional)". The saved values are then read back through the REST API and by ``OktopostHook``.

Airflow 3.3 UI facts these tests rely on (see also docs/connections.md):
- the connection form is a modal with no URL of its own; Escape closes the whole modal, so drop-downs are
  closed by choosing an option, not with Escape;
- "Standard Fields", "Extra Fields" and "Extra Fields JSON" are accordion sections, one open at a time;
- the Test button is in each row of the connection list (it tests the saved connection), not in the form;
- results are toasts (``role=status``) that disappear after ~5 s.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_oktopost.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_oktopost.testing import OktopostSandbox

# 3.0/3.1 build the form from the hook's widgets instead: test_connection_ui_hook_widgets.py.
pytestmark = pytest.mark.skipif(
    tuple(int(p) for p in version("apache-airflow").split(".")[:2]) < (3, 2),
    reason="the form is built from the provider info from Airflow 3.2",
)

CONN_ID = "oktopost_ui"
EU_CONN_ID = "oktopost_ui_eu"
WRONG_KEY = "wrong-KEY-4242-do-not-echo"
EU_BASE_URL = "https://eu-api.oktopost.com/v2"
ME_PATH = r"^/v2/me$"

# apache/airflow#73298: the row's Test button sends ``port: 0`` for a connection without a port
# (``Number(null)``) and Airflow 3.3.1/3.3.2 then refuse to reuse the stored secret.
PORT_ZERO_BUG = "The host or port to test differs from the stored connection"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


# ---- UI steps ------------------------------------------------------------------------------------------


def goto_connections(page: Any) -> None:
    """Home -> Admin -> Connections, through the navigation menu."""
    expect = _expect()
    page.goto("/")
    page.get_by_role("button", name="Admin", exact=True).click()
    page.get_by_role("menuitem", name="Connections", exact=True).click()
    expect(page).to_have_url(re.compile(r"/connections/?$"))
    expect(page.get_by_role("button", name="Add Connection")).to_be_visible()


def open_add_dialog(page: Any) -> Any:
    expect = _expect()
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Add Connection")).to_be_visible()
    return dialog


def choose_oktopost(page: Any, dialog: Any) -> None:
    """Type into the connection-type combobox; the list must offer "Oktopost"."""
    expect = _expect()
    combobox = dialog.get_by_role("combobox", name="Connection Type")
    combobox.fill("Okto")
    option = page.get_by_role("option", name="Oktopost", exact=True)
    expect(option).to_be_visible()
    option.click()
    expect(dialog.get_by_label("Account ID", exact=True)).to_be_attached()


def open_section(dialog: Any, name: str) -> None:
    """Open one accordion section of the form (a no-op when it is already open)."""
    expect = _expect()
    trigger = dialog.get_by_role("button", name=name, exact=True)
    if trigger.get_attribute("aria-expanded") != "true":
        trigger.click()
    expect(trigger).to_have_attribute("aria-expanded", "true")


def region_control(dialog: Any) -> tuple[Any, Any]:
    """The Region drop-down (a react-select combobox) and the hidden input holding its value."""
    return dialog.get_by_role("combobox", name="Region"), dialog.locator('input[name="element_region"]')


def choose_region(page: Any, dialog: Any, label: str) -> None:
    expect = _expect()
    combobox, _ = region_control(dialog)
    combobox.click()
    option = page.get_by_role("option", name=label, exact=True)
    expect(option).to_be_visible()
    option.click()
    expect(page.get_by_role("option")).to_have_count(0)


def save(page: Any, dialog: Any, method: str) -> dict[str, Any]:
    """Press Save; waits for the POST (add) or PATCH (edit) and for the modal to close."""
    expect = _expect()
    with page.expect_response(
        lambda r: "/api/v2/connections" in r.url and r.request.method == method
    ) as info:
        dialog.get_by_role("button", name="Save").click()
    response = info.value
    assert response.status in (200, 201), (response.status, response.text())
    expect(dialog).to_be_hidden()
    return response.json()


def connection_row(page: Any, conn_id: str) -> Any:
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=conn_id, exact=True))


def open_edit_dialog(page: Any, conn_id: str) -> Any:
    expect = _expect()
    connection_row(page, conn_id).get_by_role("button", name="Edit Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Edit Connection")).to_be_visible()
    return dialog


def work_around_port_zero_bug(page: Any, api_server: Any, conn_id: str) -> bool:
    """Detect apache/airflow#73298 on this server; if present, send ``port: null`` instead of ``0``.

    The probe replays the body the row's Test button sends for a saved connection (secret masked as
    ``***``, ``port`` 0). Airflow's fix treats ``port: 0`` as "no port" on the server, which is exactly what
    the route below does in the browser, so the Test button then exercises the same code as a fixed Airflow.
    """
    status, body = api_server.request("GET", f"/api/v2/connections/{conn_id}")
    assert status == 200, body
    probe = {k: body.get(k) for k in ("connection_id", "conn_type", "host", "login", "schema")}
    probe |= {"password": "***", "port": 0, "extra": body.get("extra") or "{}", "description": ""}
    status, answer = api_server.request("POST", "/api/v2/connections/test", probe)
    if not (status == 400 and PORT_ZERO_BUG in json.dumps(answer)):
        return False

    def send_null_port(route: Any) -> None:
        payload = json.loads(route.request.post_data or "{}")
        if payload.get("port") == 0:
            payload["port"] = None
        route.continue_(post_data=json.dumps(payload))

    page.route("**/api/v2/connections/test", send_null_port)
    warnings.warn(
        "this Airflow has apache/airflow#73298 (the Test button fails for connections without a port); "
        "the browser test sends port=null instead of 0 to test the provider through the button",
        stacklevel=2,
    )
    return True


def press_test(page: Any, conn_id: str) -> dict[str, Any]:
    """Press the row's Test button; returns the JSON answer of ``POST /api/v2/connections/test``."""
    with page.expect_response(
        lambda r: r.url.endswith("/api/v2/connections/test") and r.request.method == "POST"
    ) as info:
        connection_row(page, conn_id).get_by_role("button", name="Test Connection").click()
    response = info.value
    assert response.status == 200, (response.status, response.text())
    return response.json()


def toast(page: Any, title: str) -> Any:
    return page.get_by_role("status").filter(has_text=title)


# ---- tests -----------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_add_connection_form_shows_the_oktopost_fields(page: Any) -> None:
    expect = _expect()
    goto_connections(page)
    dialog = open_add_dialog(page)
    choose_oktopost(page, dialog)
    placeholders = UI_FIELD_BEHAVIOUR["placeholders"]

    open_section(dialog, "Standard Fields")
    account_id = dialog.get_by_label("Account ID", exact=True)
    api_key = dialog.get_by_label("API Key", exact=True)
    base_url = dialog.get_by_label("Base URL (optional)", exact=True)
    for field in (account_id, api_key, base_url):
        expect(field).to_be_visible()
        expect(field).to_be_editable()
    expect(account_id).to_have_attribute("placeholder", placeholders["login"])
    expect(base_url).to_have_attribute("placeholder", placeholders["host"])
    expect(api_key).to_have_attribute("type", "password")  # masked while typing
    # Hidden: schema and port; the generic labels are all relabelled.
    for name in ("schema", "port"):
        expect(dialog.locator(f'[name="{name}"]')).to_have_count(0)
    for generic in ("Schema", "Port", "Host", "Login", "Password"):
        expect(dialog.get_by_label(generic, exact=True)).to_have_count(0)

    open_section(dialog, "Extra Fields")
    region, region_value = region_control(dialog)
    expect(region).to_be_visible()
    expect(region_value).to_have_value("us")  # preselected default
    expect(dialog.locator("#element_region")).to_contain_text("US")
    expect(dialog.get_by_text(CONN_FIELDS["region"]["description"])).to_be_visible()
    region.click()
    expect(page.get_by_role("option")).to_have_text(["US", "EU"])
    # Choosing an option closes the menu; Escape would close the whole modal.
    page.get_by_role("option", name="US", exact=True).click()
    expect(region_value).to_have_value("us")
    expect(dialog.get_by_label("Timeout (seconds)", exact=True)).to_be_visible()


@pytest.mark.browser
def test_fill_save_test_and_edit(
    page: Any,
    api_server: Any,
    oktopost_sandbox: OktopostSandbox,
    screenshot_dir: Path,
) -> None:
    expect = _expect()
    sandbox = oktopost_sandbox
    api_server.delete_connection(CONN_ID)

    # Fill the form and save it.
    goto_connections(page)
    dialog = open_add_dialog(page)
    dialog.get_by_label("Connection ID").fill(CONN_ID)
    choose_oktopost(page, dialog)
    open_section(dialog, "Standard Fields")
    dialog.get_by_label("Base URL (optional)", exact=True).fill(sandbox.base_url)
    dialog.get_by_label("Account ID", exact=True).fill(sandbox.account_id)
    dialog.get_by_label("API Key", exact=True).fill(sandbox.api_key)
    expect(dialog.get_by_label("API Key", exact=True)).to_have_attribute("type", "password")
    dialog.get_by_label("Connection ID").focus()  # no focus ring in the screenshot's fields
    dialog.screenshot(path=str(screenshot_dir / "connection-form.png"), animations="disabled")
    open_section(dialog, "Extra Fields")
    expect(region_control(dialog)[1]).to_have_value("us")
    dialog.screenshot(path=str(screenshot_dir / "connection-form-region.png"), animations="disabled")
    saved = save(page, dialog, "POST")
    assert saved["connection_id"] == CONN_ID and saved["conn_type"] == "oktopost"
    assert saved["password"] != sandbox.api_key  # the API answers with the secret redacted

    work_around_port_zero_bug(page, api_server, CONN_ID)

    # Test: success, and the hook really called the sandbox from the api-server process.
    page.goto("/connections")  # a fresh page: no toasts left over from saving
    page.set_viewport_size({"width": 1280, "height": 400})  # keep the toast next to the table
    calls_before = sandbox.count(method="GET", path_regex=ME_PATH)
    result = press_test(page, CONN_ID)
    assert result["status"] is True, result
    success = toast(page, "Test Connection Successful")
    expect(success).to_be_visible()
    expect(success).to_contain_text("Connected to Oktopost account")
    expect(success).to_contain_text(sandbox.account_id)
    page.screenshot(path=str(screenshot_dir / "connection-test-success.png"), animations="disabled")
    assert sandbox.count(method="GET", path_regex=ME_PATH) == calls_before + 1
    page.set_viewport_size({"width": 1280, "height": 900})

    # A wrong key: the Test reports the 401 clearly and never shows the key.
    dialog = open_edit_dialog(page, CONN_ID)
    open_section(dialog, "Standard Fields")
    dialog.get_by_label("API Key", exact=True).fill(WRONG_KEY)
    save(page, dialog, "PATCH")
    result = press_test(page, CONN_ID)
    assert result["status"] is False, result
    failure = toast(page, "Test Connection Failed").filter(has_text="401")
    expect(failure).to_be_visible()
    expect(failure).to_contain_text("Invalid credentials")
    assert WRONG_KEY not in failure.inner_text()
    assert WRONG_KEY not in result["message"]
    assert WRONG_KEY not in page.content()
    assert sandbox.count(method="GET", path_regex=ME_PATH) == calls_before + 2

    # Edit again: the form shows what is stored (the key redacted); put the right key back.
    dialog = open_edit_dialog(page, CONN_ID)
    open_section(dialog, "Standard Fields")
    expect(dialog.get_by_label("Connection ID")).to_have_value(CONN_ID)
    type_field = dialog.get_by_role("group").filter(has=page.get_by_role("combobox", name="Connection Type"))
    expect(type_field).to_contain_text("Oktopost")
    expect(dialog.get_by_label("Account ID", exact=True)).to_have_value(sandbox.account_id)
    expect(dialog.get_by_label("Base URL (optional)", exact=True)).to_have_value(sandbox.base_url)
    api_key = dialog.get_by_label("API Key", exact=True)
    expect(api_key).not_to_have_value(WRONG_KEY)
    expect(api_key).not_to_have_value("")
    api_key.fill(sandbox.api_key)
    open_section(dialog, "Extra Fields")
    expect(region_control(dialog)[1]).to_have_value("us")
    expect(dialog.locator("#element_region")).to_contain_text("US")
    save(page, dialog, "PATCH")
    result = press_test(page, CONN_ID)
    assert result["status"] is True, result

    # Read back: the REST API, then the hook itself on the same metadata database.
    status, stored = api_server.request("GET", f"/api/v2/connections/{CONN_ID}")
    assert status == 200, stored
    assert stored["conn_type"] == "oktopost"
    assert stored["login"] == sandbox.account_id
    assert stored["host"] == sandbox.base_url
    assert stored["password"] != sandbox.api_key
    assert json.loads(stored["extra"])["region"] == "us"
    assert stored["port"] is None and stored["schema"] in (None, "")

    read = _read_with_hook(CONN_ID)
    assert (read["login"], read["password"], read["host"]) == (
        sandbox.account_id,
        sandbox.api_key,
        sandbox.base_url,
    )
    assert read["extra"].get("region") == "us"  # stored unprefixed
    assert not any(key.startswith("extra__") for key in read["extra"])
    assert (read["account_id"], read["api_key"], read["base_url"]) == (
        sandbox.account_id,
        sandbox.api_key,
        sandbox.base_url,
    )
    assert WRONG_KEY not in api_server.log_path.read_text(errors="replace")


@pytest.mark.browser
def test_eu_region_without_base_url(page: Any, api_server: Any) -> None:
    expect = _expect()
    api_server.delete_connection(EU_CONN_ID)
    page.goto("/connections")  # the menu path is covered by the other tests
    dialog = open_add_dialog(page)
    dialog.get_by_label("Connection ID").fill(EU_CONN_ID)
    choose_oktopost(page, dialog)
    open_section(dialog, "Standard Fields")
    dialog.get_by_label("Account ID", exact=True).fill("001eu0000000001")
    dialog.get_by_label("API Key", exact=True).fill("eu-key-0001")
    open_section(dialog, "Extra Fields")
    choose_region(page, dialog, "EU")
    expect(region_control(dialog)[1]).to_have_value("eu")
    save(page, dialog, "POST")

    status, stored = api_server.request("GET", f"/api/v2/connections/{EU_CONN_ID}")
    assert status == 200, stored
    assert stored["host"] in (None, "")
    assert json.loads(stored["extra"])["region"] == "eu"

    read = _read_with_hook(EU_CONN_ID)
    assert (read["login"], read["password"], read["host"]) == ("001eu0000000001", "eu-key-0001", None)
    assert read["extra"].get("region") == "eu"
    assert read["base_url"] == EU_BASE_URL

    dialog = open_edit_dialog(page, EU_CONN_ID)
    open_section(dialog, "Standard Fields")
    expect(dialog.get_by_label("Account ID", exact=True)).to_have_value("001eu0000000001")
    expect(dialog.get_by_label("Base URL (optional)", exact=True)).to_have_value("")
    open_section(dialog, "Extra Fields")
    expect(region_control(dialog)[1]).to_have_value("eu")
    expect(dialog.locator("#element_region")).to_contain_text("EU")


def _read_with_hook(conn_id: str) -> dict[str, Any]:
    """What ``OktopostHook(conn_id)`` reads from the metadata DB the api-server wrote to.

    In a fresh interpreter with the session's AIRFLOW_HOME: the test process may have loaded Airflow's
    config before ``airflow db migrate`` wrote airflow.cfg (and its Fernet key), and outside a task
    Airflow 3.3's SDK only looks at the metadata DB in a "server" process context.
    """
    code = (
        "import json, sys\n"
        "from airflow_provider_oktopost.hooks.oktopost import OktopostHook\n"
        "hook = OktopostHook(sys.argv[1])\n"
        "conn = hook.get_connection(sys.argv[1])\n"
        "config = hook.config\n"
        "print('RESULT ' + json.dumps({'login': conn.login, 'password': conn.password, 'host': conn.host,\n"
        "    'extra': conn.extra_dejson, 'account_id': config.account_id, 'api_key': config.api_key,\n"
        "    'base_url': config.base_url}))\n"
    )
    env = {**os.environ, "_AIRFLOW_PROCESS_CONTEXT": "server"}
    done = subprocess.run(
        [sys.executable, "-c", code, conn_id],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, (
        f"reading {conn_id} with the hook failed:\n{done.stdout}\n{done.stderr}"
    )
    return dict(json.loads(lines[-1][len("RESULT ") :]))
