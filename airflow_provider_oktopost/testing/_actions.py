"""Integration actions in the sandbox (``POST /v2/integration-action``): a small, realistic catalog.

Oktopost documents actions for Salesforce, Marketo and HubSpot integrations and runs them only for an
integration that is valid and enabled. The sandbox answers the reads with made-up but stable records
(derived from the payload, so two calls agree) and counts the writes, so that a test can tell whether an
action was sent twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: type -> action name -> (required payload fields, is a write)
ACTIONS: dict[str, dict[str, tuple[tuple[str, ...], bool]]] = {
    "salesforce": {
        "contact.getByEmail": (("email",), False),
        "lead.getByEmail": (("email",), False),
        "lead.search": (("query",), False),
        "lead.create": (("email",), True),
    },
    "hubspot": {
        "contact.getByEmail": (("email",), False),
        "contact.search": (("query",), False),
        "contact.create": (("email",), True),
    },
    "marketo": {
        "lead.getByEmail": (("email",), False),
        "lead.search": (("query",), False),
        "lead.create": (("email",), True),
    },
}
NOT_READY = "Integration must have a valid status and be enabled to run actions"


def _person(seed: str, email: str | None = None) -> dict[str, Any]:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return {
        "Id": "00Q" + digest[:12],
        "Email": email or f"person.{digest[:6]}@example.com",
        "FirstName": "Sandbox",
        "LastName": f"Person {digest[6:10]}",
        "Company": "Example Inc",
    }


def run_action(
    integration: dict[str, Any], action_name: str, payload_text: str
) -> tuple[int, dict[str, Any]]:
    """``(HTTP status, body)`` for one action on a rendered integration record."""
    if integration.get("Status") != "valid" or integration.get("State") != "active":
        return 400, {"Result": False, "Errors": [NOT_READY]}
    catalog = ACTIONS.get(str(integration.get("Type")), {})
    if action_name not in catalog:
        supported = ", ".join(sorted(catalog)) or "none"
        return 400, {
            "Result": False,
            "Errors": [
                f"Action {action_name} is not supported for this integration (supported: {supported})"
            ],
        }
    try:
        payload = json.loads(payload_text or "{}")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return 400, {"Result": False, "Errors": ["Invalid payload: expected a JSON object"]}
    required, _writes = catalog[action_name]
    for name in required:
        if not payload.get(name):
            return 400, {"Result": False, "Errors": [f"Missing required field: {name}"]}
    verb = action_name.rsplit(".", 1)[-1]
    if verb == "getByEmail":
        result: dict[str, Any] = _person(str(payload["email"]), str(payload["email"]))
    elif verb == "search":
        query = str(payload["query"])
        items = [_person(f"{query}/{i}") for i in range(len(query) % 3 + 1)]
        result = {"Items": items, "Total": len(items)}
    else:
        result = {"Id": _person(str(payload["email"]) + "/new")["Id"], "Created": True}
    return 200, {"Result": True, "IntegrationAction": result}
