"""The Oktopost connection form on Airflow 3.0/3.1, where the UI builds it from the hook's widgets.

Airflow 3.2+ builds the form from the provider info's ``conn-fields`` (a US/EU drop-down; tested in
``test_connection_ui.py``); 3.0/3.1 call ``OktopostHook.get_connection_form_widgets()``, which offers the
region as a validated text field. ``make test`` runs this file on Airflow 3.1.x.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest
from test_connection_ui import (
    _expect,
    _read_with_hook,
    choose_oktopost,
    goto_connections,
    open_add_dialog,
    open_section,
    save,
)

AIRFLOW = tuple(int(p) for p in version("apache-airflow").split(".")[:2])
CONN_ID = "oktopost_ui_widgets"  # the session's metadata DB is new: no earlier connection to delete

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(AIRFLOW >= (3, 2), reason="3.2+ builds the form from the provider info"),
]


def field(dialog: Any, label: str) -> Any:
    """The text box in the form group labelled ``label`` (3.1 does not tie these labels to the inputs)."""
    return dialog.get_by_role("group").filter(has_text=label).get_by_role("textbox")


def test_hook_widget_form_saves_account_region_and_timeout(page: Any, api_server: Any) -> None:
    expect = _expect()
    goto_connections(page)
    dialog = open_add_dialog(page)
    dialog.get_by_label("Connection ID").fill(CONN_ID)
    choose_oktopost(page, dialog)

    open_section(dialog, "Standard Fields")
    dialog.get_by_label("Account ID", exact=True).fill("001000000000077")
    dialog.get_by_label("API Key", exact=True).fill("widget-key-77")
    expect(dialog.get_by_label("API Key", exact=True)).to_have_attribute("type", "password")
    for name in ("schema", "port"):
        expect(dialog.locator(f'[name="{name}"]')).to_have_count(0)

    open_section(dialog, "Extra Fields")
    region = field(dialog, "Region (us or eu)")
    expect(region).to_have_value("us")  # the widget's default
    region.fill("eu")
    field(dialog, "Timeout (seconds)").fill("45")
    saved = save(page, dialog, "POST")
    assert saved["connection_id"] == CONN_ID and saved["conn_type"] == "oktopost"

    # What the hook reads back from the metadata DB the api-server wrote to.
    stored = _read_with_hook(CONN_ID)
    assert stored["account_id"] == "001000000000077" and stored["api_key"] == "widget-key-77"
    assert stored["extra"]["region"] == "eu" and str(stored["extra"]["timeout"]) == "45"
    assert stored["base_url"] == "https://eu-api.oktopost.com/v2"
