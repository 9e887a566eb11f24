"""Issue 10: after a lost create, the hook looks more than once, over at least the request timeout, before
it sends the create again; a re-sent create that is refused leads to a look, not a failure.

"Not visible yet" is a listing the sandbox answers with no items (a synthetic 200): the server committed the
lost create, but its listing does not show it yet, as a slow or lagging server would.
"""

from __future__ import annotations

import json

from support import SimClock

from airflow_provider_oktopost._core.exactly_once import LOST_CREATE_LOOKS, lost_create_waits
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.testing import Fault, OktopostSandbox

LIST = r"/v2/integration"
CNAME = "0CN000000000042"
NOT_VISIBLE_YET = json.dumps({"Result": True, "Items": [], "Total": 0})


def _empty_listings(times: int) -> Fault:
    return Fault(kind="status", status=200, body=NOT_VISIBLE_YET, method="GET", path=LIST, times=times)


def test_waits_before_the_looks_add_up_to_the_request_timeout() -> None:
    waits = lost_create_waits(30.0, 1.5)
    assert len(waits) == LOST_CREATE_LOOKS >= 2
    assert waits[0] == 1.5 and sum(waits) >= 30.0
    assert lost_create_waits(0.5, 2.0) == [2.0] + [0.0] * (LOST_CREATE_LOOKS - 1)


def test_a_create_that_shows_up_late_is_found_not_sent_again(
    sandbox: OktopostSandbox, no_sleep: SimClock
) -> None:
    # Committed, answer lost; the first looks do not see it yet, a later one does.
    sandbox.inject(
        Fault(kind="lost_response", method="POST", path=LIST), _empty_listings(LOST_CREATE_LOOKS - 1)
    )
    created = OktopostHook(timeout=30).connect_integration("cd", CNAME)
    assert [item["Id"] for item in sandbox.integrations] == [created.id]
    assert sandbox.count("POST") == 1
    assert sandbox.count("GET", LIST) == LOST_CREATE_LOOKS
    assert sum(no_sleep.slept) >= 30  # the looks were spread over at least the request timeout


def test_a_create_that_is_not_found_is_sent_again_after_every_look(
    sandbox: OktopostSandbox, no_sleep: SimClock
) -> None:
    sandbox.inject(Fault(kind="drop", method="POST", path=LIST))  # never processed
    created = OktopostHook(timeout=10).connect_integration("cd", CNAME)
    assert [item["Id"] for item in sandbox.integrations] == [created.id]
    assert sandbox.count("POST") == 2
    assert sandbox.count("GET", LIST) == LOST_CREATE_LOOKS


def test_a_resent_create_refused_because_one_exists_leads_to_a_look(
    sandbox: OktopostSandbox, no_sleep: SimClock
) -> None:
    # The lost create committed, no look saw it, the re-sent one is refused: look again, find it.
    refused = json.dumps({"Result": False, "Errors": ["An integration of this type already exists"]})
    sandbox.inject(
        Fault(kind="lost_response", method="POST", path=LIST),
        _empty_listings(LOST_CREATE_LOOKS),
        Fault(kind="status", status=400, body=refused, method="POST", path=LIST),
    )
    created = OktopostHook().connect_integration("cd", CNAME)
    assert [item["Id"] for item in sandbox.integrations] == [created.id]
    assert sandbox.count("GET", LIST) == LOST_CREATE_LOOKS + 1
