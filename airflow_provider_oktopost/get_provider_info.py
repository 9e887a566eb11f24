"""Provider metadata for Airflow's provider discovery (the ``apache_airflow_provider`` entry point).

Airflow calls :func:`get_provider_info` in every CLI command, the scheduler and the API server, so this
module imports nothing. From Airflow 3.2 the connection form is built from the declarative
``ui-field-behaviour`` and ``conn-fields`` here, without importing the hook; 3.0 and 3.1 use the hook's
``get_ui_field_behaviour`` / ``get_connection_form_widgets``, which read the same constants.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_oktopost import __version__
from airflow_provider_oktopost._core.config_options import provider_config

# The one version source is airflow_provider_oktopost/__init__.py (pyproject reads it through hatch).
VERSION = __version__
INTEGRATION = "Oktopost"

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"login": "Account ID", "password": "API Key", "host": "Base URL (optional)"},
    "placeholders": {
        "login": "001000000000001",
        "password": "API key from Oktopost: My Profile > API",
        "host": "https://api.oktopost.com/v2 (leave empty to use the region)",
        "extra": '{"region": "us", "timeout": 30}',
    },
}

CONN_FIELDS: dict[str, Any] = {
    "region": {
        "label": "Region",
        "description": "Oktopost data center of the account: US (api.oktopost.com) or EU "
        "(eu-api.oktopost.com). "
        "Ignored when a Base URL is set.",
        # values_display: the form shows "US"/"EU" and stores "us"/"eu" (as the 3.0/3.1 SelectField does).
        "schema": {
            "type": "string",
            "enum": ["us", "eu"],
            "default": "us",
            "values_display": {"us": "US", "eu": "EU"},
        },
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "How long to wait for each API response. Default 30.",
        "schema": {"type": ["number", "null"], "minimum": 1, "maximum": 600},
    },
}


#: The ``oktopost_partner`` connection form (issue 20): the partner's own Account ID and key.
PARTNER_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"login": "Partner Account ID", "password": "API Key", "host": "Base URL (optional)"},
    "placeholders": {
        "login": "001000000000001",
        "password": "The partner account's API key",
        "host": "https://reseller.oktopost.com (leave empty for it)",
        "extra": '{"timeout": 30}',
    },
}
PARTNER_CONN_FIELDS: dict[str, Any] = {"timeout": CONN_FIELDS["timeout"]}


def get_provider_info() -> dict[str, Any]:
    """The provider-info dict Airflow validates against ``provider_info.schema.json``."""
    return {
        "package-name": "airflow-provider-oktopost",
        "name": "Oktopost",
        "description": "Connect, update, delete and wait for Oktopost integrations "
        "(`Oktopost Integrations API <https://developers.oktopost.com/docs/integrations/integrations>`__).",
        "versions": [VERSION],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://developers.oktopost.com/docs/integrations/integrations",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_oktopost.hooks.oktopost"]},
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_oktopost.hooks.partner"]},
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_oktopost.operators.oktopost",
                    "airflow_provider_oktopost.operators.cname",
                    "airflow_provider_oktopost.operators.action",
                    "airflow_provider_oktopost.operators.partner",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_oktopost.sensors.oktopost"],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_oktopost.triggers.oktopost",
                    "airflow_provider_oktopost.triggers.watcher",
                ],
            }
        ],
        "asset-uris": [
            {
                "schemes": ["oktopost"],
                "handler": "airflow_provider_oktopost.assets.sanitize_uri",
            }
        ],
        "connection-types": [
            {
                "connection-type": "oktopost",
                "hook-class-name": "airflow_provider_oktopost.hooks.oktopost.OktopostHook",
                "hook-name": "Oktopost",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            },
            {
                "connection-type": "oktopost_partner",
                "hook-class-name": "airflow_provider_oktopost.hooks.partner.OktopostPartnerHook",
                "hook-name": "Oktopost Partner",
                "ui-field-behaviour": PARTNER_UI_FIELD_BEHAVIOUR,
                "conn-fields": PARTNER_CONN_FIELDS,
            },
        ],
        "config": provider_config(),
        "plugins": [
            {"name": "oktopost", "plugin-class": "airflow_provider_oktopost.plugins.oktopost.OktopostPlugin"}
        ],
    }
