"""The ``oktopost_partner`` connection form (issue 20) in Airflow's own UI, in headless Chromium.

The same steps as ``test_connection_ui.py`` (its helpers are reused): Admin -> Connections -> Add
Connection, pick "Oktopost Partner", fill the relabelled fields, save, and press the row's Test button,
which runs ``OktopostPartnerHook.test_connection()`` inside the api-server against the in-process sandbox's
partner account (one ``GET /account`` page).
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest
from test_connection_ui import (
    _expect,
    goto_connections,
    open_add_dialog,
    open_section,
    press_test,
    save,
    toast,
    work_around_port_zero_bug,
)

from airflow_provider_oktopost.get_provider_info import PARTNER_UI_FIELD_BEHAVIOUR
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing._accounts import DEFAULT_PARTNER_ID, DEFAULT_PARTNER_KEY

pytestmark = pytest.mark.skipif(
    tuple(int(p) for p in version("apache-airflow").split(".")[:2]) < (3, 2),
    reason="the form is built from the provider info from Airflow 3.2",
)

CONN_ID = "oktopost_partner_ui"


@pytest.mark.browser
def test_partner_form_save_and_test(page: Any, api_server: Any, oktopost_sandbox: OktopostSandbox) -> None:
    expect = _expect()
    sandbox = oktopost_sandbox
    sandbox.add_managed_account(DEFAULT_PARTNER_ID, "Acme Inc", external_id="crm-1")
    api_server.delete_connection(CONN_ID)
    goto_connections(page)
    dialog = open_add_dialog(page)
    dialog.get_by_label("Connection ID").fill(CONN_ID)
    dialog.get_by_role("combobox", name="Connection Type").fill("Okto")
    option = page.get_by_role("option", name="Oktopost Partner", exact=True)
    expect(option).to_be_visible()
    option.click()
    open_section(dialog, "Standard Fields")
    labels = PARTNER_UI_FIELD_BEHAVIOUR["relabeling"]
    login = dialog.get_by_label(labels["login"], exact=True)
    expect(login).to_have_attribute("placeholder", PARTNER_UI_FIELD_BEHAVIOUR["placeholders"]["login"])
    host = dialog.get_by_label(labels["host"], exact=True)
    expect(host).to_have_attribute("placeholder", PARTNER_UI_FIELD_BEHAVIOUR["placeholders"]["host"])
    key = dialog.get_by_label(labels["password"], exact=True)
    expect(key).to_have_attribute("type", "password")
    for name in ("schema", "port"):
        expect(dialog.locator(f'[name="{name}"]')).to_have_count(0)
    host.fill(sandbox.partner_url)
    login.fill(DEFAULT_PARTNER_ID)
    key.fill(DEFAULT_PARTNER_KEY)
    saved = save(page, dialog, "POST")
    assert saved["conn_type"] == "oktopost_partner" and saved["password"] != DEFAULT_PARTNER_KEY

    work_around_port_zero_bug(page, api_server, CONN_ID)
    page.goto("/connections")
    page.set_viewport_size({"width": 1280, "height": 400})
    before = sandbox.count(method="GET", path_regex=r"^/account$")
    result = press_test(page, CONN_ID)
    assert result["status"] is True, result
    success = toast(page, "Test Connection Successful")
    expect(success).to_be_visible()
    expect(success).to_contain_text("1 managed account(s)")
    assert sandbox.count(method="GET", path_regex=r"^/account$") == before + 1
    assert DEFAULT_PARTNER_KEY not in page.content()
