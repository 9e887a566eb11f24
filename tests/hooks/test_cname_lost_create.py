"""A CNAME create whose answer was lost follows the same exactly-once rule as a connect
(``_core/exactly_once.py``): several looks over at least the request timeout before it is sent again, and a
re-sent create that is refused leads to a look, not a failure.

"Not visible yet" is a CNAME listing the sandbox answers with no items (a synthetic 200): the server
committed the lost create, but its listing does not show it yet, as a slow or lagging server would. With
the old rule (one look after one backoff) every test here fails (shown once).
"""

from __future__ import annotations

import json

from support import SimClock

from airflow_provider_oktopost._core.exactly_once import LOST_CREATE_LOOKS
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.testing import Fault, OktopostSandbox

CNAMES = r"/v2/cname"
HOST = "links.example.com"
NOT_VISIBLE_YET = json.dumps({"Result": True, "Items": [], "Total": 0})


def _empty_listings(times: int) -> Fault:
    return Fault(kind="status", status=200, body=NOT_VISIBLE_YET, method="GET", path=CNAMES, times=times)


def test_a_cname_that_shows_up_late_is_found_not_sent_again(
    sandbox: OktopostSandbox, no_sleep: SimClock
) -> None:
    # Committed, answer lost; the first looks do not see it yet, the last one does.
    sandbox.inject(
        Fault(kind="lost_response", method="POST", path=CNAMES), _empty_listings(LOST_CREATE_LOOKS - 1)
    )
    cname = OktopostHook(timeout=30).create_cname(HOST)
    assert [c["Id"] for c in sandbox.cnames] == [cname.id] and cname.name == HOST
    assert sandbox.count("POST", CNAMES) == 1
    assert sandbox.count("GET", CNAMES) == LOST_CREATE_LOOKS
    assert sum(no_sleep.slept) >= 30  # the looks were spread over at least the request timeout


def test_a_resent_cname_refused_as_a_duplicate_leads_to_a_look(
    sandbox: OktopostSandbox, no_sleep: SimClock
) -> None:
    # The lost create committed, no look saw it; the re-sent one is refused (the sandbox's own duplicate
    # check): look again, find it, and do not fail.
    sandbox.inject(
        Fault(kind="lost_response", method="POST", path=CNAMES), _empty_listings(LOST_CREATE_LOOKS)
    )
    cname = OktopostHook().create_cname(HOST)
    assert [c["Id"] for c in sandbox.cnames] == [cname.id]
    assert sandbox.count("POST", CNAMES) == 2
    assert sandbox.count("GET", CNAMES) == LOST_CREATE_LOOKS + 1


def test_a_cname_that_was_not_created_is_sent_again_after_every_look(
    sandbox: OktopostSandbox, no_sleep: SimClock
) -> None:
    sandbox.inject(Fault(kind="drop", method="POST", path=CNAMES))  # never processed
    cname = OktopostHook(timeout=10).create_cname(HOST)
    assert [c["Id"] for c in sandbox.cnames] == [cname.id]
    assert sandbox.count("POST", CNAMES) == 2
    assert sandbox.count("GET", CNAMES) == LOST_CREATE_LOOKS
