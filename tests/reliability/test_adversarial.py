"""Issue 6, adversarial input: property-based tests (hypothesis, derandomized so CI is deterministic).

- Any body (JSON value or raw bytes) with any status ends in a typed result or an ``OktopostError``, never
  another exception, through the real operations (parsing, models, pagination, exactly-once recovery).
- Dates in every shape the API uses, and garbage, never crash parsing.
- IDs, types, CNAMEs and settings with ``/``, ``..``, ``?``, ``#``, ``%``, whitespace, unicode, very long
  strings and ``None`` either fail with a ``ValueError`` naming the parameter before any request, or are sent
  so that the request reaches exactly the intended path with exactly the intended values (sandbox log).
- Templated arguments that render to bad values fail the task with the same errors (a real DAG run).
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from airflow_provider_oktopost._core import operations as ops
from airflow_provider_oktopost._core.config import ClientConfig
from airflow_provider_oktopost._core.driver import run_sync
from airflow_provider_oktopost._core.interpret import interpret, parse_retry_after
from airflow_provider_oktopost._core.retry import RetryPolicy
from airflow_provider_oktopost._core.wire import ApiRequest, ApiResponse, TransportFailure
from airflow_provider_oktopost.exceptions import OktopostError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.models import Integration, Me, parse_datetime
from airflow_provider_oktopost.testing import OktopostSandbox

PURE = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
NETWORK = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ---- strategies ----------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)
FIELDS = [
    "Id",
    "Type",
    "Status",
    "State",
    "AccountId",
    "Version",
    "CnameId",
    "SettingsData",
    "Assets",
    "Created",
    "Modified",
]
dates = (
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S"))
    | st.datetimes().map(lambda d: d.isoformat())
    | st.dates().map(str)
    | st.from_regex(r"\A\s*\d{1,5}-\d{1,3}-\d{1,3}([ T]\d{1,3}:\d{1,3}(:\d{1,3})?)?.{0,6}\Z")
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats()
    | st.text(max_size=25)
    | st.sampled_from(["", "0000-00-00 00:00:00", "0000-00-00", "2026-02-30 25:61:61", "NaN", "inf", "null"])
    | json_values
)
integration_like = st.dictionaries(st.sampled_from(FIELDS), json_values | dates, max_size=len(FIELDS))
body_objects = st.fixed_dictionaries(
    {},
    optional={
        "Result": json_values,
        "Errors": json_values,
        "Integration": integration_like | json_values,
        "Items": st.lists(integration_like | json_values, max_size=4) | json_values,
        "Total": json_values,
        "User": st.dictionaries(st.sampled_from(["Id", "Name", "Email"]), json_values) | json_values,
        "Account": st.dictionaries(st.sampled_from(["Id", "Name"]), json_values) | json_values,
    },
)
bodies = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | body_objects.map(lambda v: json.dumps(v).encode())
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
statuses = st.integers(min_value=100, max_value=599) | st.sampled_from([200, 200, 201, 429, 500, 502, 404])
retry_after = (
    st.none()
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "0",
            "7",
            "-5",
            "1e309",
            "nan",
            "inf",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ]
    )
)
replies = st.builds(
    lambda status, body, hint: ApiResponse(status, body, {"retry-after": hint} if hint is not None else {}),
    statuses,
    bodies,
    retry_after,
) | st.builds(TransportFailure, st.text(max_size=20), st.booleans())

CONFIG = ClientConfig(
    base_url="http://unused.invalid/v2", account_id="001", api_key="k", retry=RetryPolicy(max_retries=1)
)


def _operations() -> list[Any]:
    ctx = ops.Context.for_config(CONFIG)
    return [
        lambda: ops.get_me(ctx),
        lambda: ops.list_page(ctx, None, 0, 25),
        lambda: ops.list_all(ctx, "cd"),
        lambda: ops.get_integration(ctx, "014abc"),
        lambda: ops.connect_integration(ctx, "cd", "0CN1", {"a": 1}),
        lambda: ops.update_integration(ctx, "014abc", state="active"),
        lambda: ops.delete_integration(ctx, "014abc"),
    ]


@pytest.fixture
def quiet_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_oktopost._core import clock
    from airflow_provider_oktopost.testing.budget import reset_budgets

    monkeypatch.setattr(clock, "sleep", lambda seconds: None)
    reset_budgets()


# ---- response parsing ----------------------------------------------------------------------------------


@PURE
@given(reply=replies, now=st.floats(min_value=0, max_value=4e9))
@example(reply=ApiResponse(200, b'{"Result": true, "Total": 1e400}'), now=0)
@example(reply=ApiResponse(200, b"[" * 5000), now=0)
@example(reply=ApiResponse(200, b"\xff\xfe"), now=0)
def test_interpret_ends_in_data_or_a_typed_error(reply: Any, now: float) -> None:
    request = ApiRequest("GET", "/integration/014abc")
    outcome = interpret(request, reply, now)
    assert (outcome.data is None) != (outcome.error is None)
    if outcome.error is not None:
        assert isinstance(outcome.error, OktopostError)
        assert str(outcome.error)  # the message can be rendered
    else:
        assert isinstance(outcome.data, dict)
    if outcome.retry_after is not None:
        assert 0 <= outcome.retry_after <= 86400


@PURE
@given(first=replies, second=replies, which=st.integers(min_value=0, max_value=6))
def test_operations_end_in_a_typed_result_or_an_oktopost_error(
    first: Any, second: Any, which: int, quiet_time: None
) -> None:
    """The whole operation (retry, recovery, models) over two arbitrary replies, then the second forever."""
    answers = [first]

    def send(request: ApiRequest) -> Any:
        return answers.pop(0) if answers else second

    try:
        result = run_sync(_operations()[which](), send)
    except OktopostError as error:
        assert str(error)
        return
    if isinstance(result, Integration):
        json.dumps(result.to_dict())  # what operators push to XCom must serialize
    elif isinstance(result, list):
        for item in result:
            json.dumps(item.to_dict())
    else:
        assert result is None or isinstance(result, Me) or hasattr(result, "items")


@PURE
@given(data=integration_like)
def test_integration_model_never_crashes(data: dict[str, Any]) -> None:
    integration = Integration.from_api(data)
    json.dumps(integration.to_dict())
    integration.matches("valid", "active")


@PURE
@given(value=dates)
@example(value=float("nan"))
@example(value=float("inf"))
@example(value=10**30)
@example(value="9999-12-31 23:59:59")
@example(value="2026-11-28T09:35:00Z")
@example(value="2026-11-28 09:35:00+02:00")
@example(value="1764322500")
def test_dates_never_crash(value: Any) -> None:
    parsed = parse_datetime(value)
    assert parsed is None or parsed.tzinfo is not None


@PURE
@given(value=st.text(max_size=60), now=st.floats(allow_nan=True, allow_infinity=True))
def test_retry_after_never_crashes(value: str, now: float) -> None:
    seconds = parse_retry_after(value, now)
    assert seconds is None or (0 <= seconds <= 86400 and not math.isnan(seconds))


# ---- IDs, types, CNAMEs and settings -------------------------------------------------------------------

HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "../me",
        "..",
        "a/b",
        "a?b=1",
        "a#b",
        "%2e%2e",
        "%2F",
        "a b",
        "a\tb",
        "a\nb",
        "é",
        "\u202e01",
        "0" * 129,
        "x" * 5000,
        "014abc/..",
        "/",
        "?",
        "#",
        "%",
        "\x00",
        "014abc\n",
    ]
)
ids = st.none() | HOSTILE | st.text(max_size=140) | st.from_regex(r"\A[A-Za-z0-9_-]{1,128}\Z")
type_names = st.none() | HOSTILE | st.text(max_size=70) | st.from_regex(r"\A[A-Za-z0-9_.-]{1,64}\Z")


def _first(sb: OktopostSandbox) -> Any:
    assert sb.count() == 1, sb.requests
    return sb.requests[0]


@NETWORK
@given(value=ids)
def test_integration_ids_are_refused_or_reach_exactly_their_path(
    rsandbox: OktopostSandbox, value: Any
) -> None:
    sb = rsandbox
    for method, call in (
        ("GET", lambda h: h.get_integration(value)),
        ("POST", lambda h: h.update_integration(value, state="active")),
        ("DELETE", lambda h: h.delete_integration(value)),
    ):
        sb.clear_requests()
        try:
            call(OktopostHook(max_retries=0))
        except ValueError as error:
            assert "integration_id" in str(error)
            assert sb.count() == 0
            continue
        except OktopostError:
            pass  # 404 from the sandbox: the request was sent
        logged = _first(sb)
        assert logged.method == method
        assert logged.path == "/v2/integration/" + value  # exactly the intended resource
        assert quote(value, safe="") == value


@NETWORK
@given(value=type_names, cname=ids)
def test_types_and_cnames_are_refused_or_sent_verbatim(
    rsandbox: OktopostSandbox, value: Any, cname: Any
) -> None:
    sb = rsandbox
    sb.clear_requests()
    try:
        OktopostHook(max_retries=0).list_integrations(type=value)
    except ValueError as error:
        assert value is not None and "type" in str(error) and sb.count() == 0
    else:
        logged = _first(sb)
        assert logged.path == "/v2/integration"
        assert logged.query.get("type") == value
    sb.clear_requests()
    try:
        OktopostHook(max_retries=0).connect_integration("cd", cname)
    except ValueError as error:
        assert "cname_id" in str(error) and sb.count() == 0
    else:
        logged = _first(sb)
        assert (logged.method, logged.path) == ("POST", "/v2/integration")
        assert logged.form == {"type": "cd", "cnameId": cname}


setting_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(max_size=80).filter(lambda t: "\x00" not in t and "\r" not in t)
    | HOSTILE.filter(lambda t: "\x00" not in t)
    | st.lists(st.text(max_size=5), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)
)
setting_keys = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,20}\Z") | HOSTILE | st.text(max_size=20)


@NETWORK
@given(key=setting_keys, value=setting_values)
def test_settings_are_refused_or_sent_exactly(rsandbox: OktopostSandbox, key: str, value: Any) -> None:
    sb = rsandbox
    assume(key not in ("type", "cnameId", "state", "cname_id"))  # the update's own parameters, not settings
    seed = sb.add_integration("cd", "0CNsettings0001")["Id"]
    sb.clear_requests()
    try:
        OktopostHook(max_retries=0).update_integration(seed, **{key: value})
    except ValueError as error:
        assert "settings" in str(error) and sb.count() == 0
        return
    logged = _first(sb)
    assert (logged.method, logged.path) == ("POST", f"/v2/integration/{seed}")
    if isinstance(value, bool):
        expected = "1" if value else "0"
    elif value is None:
        expected = ""
    elif isinstance(value, list | dict):
        expected = json.dumps(value, separators=(",", ":"))
    else:
        expected = str(value)
    assert logged.form == {key: expected}


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda h: h.get_integration("014abc\n"), "integration_id"),
        (lambda h: h.delete_integration("014abc\n"), "integration_id"),
        (lambda h: h.list_integrations(type="cd\n"), "type"),
        (lambda h: h.connect_integration("cd", "0CN1\n"), "cname_id"),
        (lambda h: h.update_integration("014abc", **{"trackingId\n": "x"}), "settings key"),
    ],
)
def test_a_trailing_newline_is_refused_before_any_request(
    rsandbox: OktopostSandbox, call: Any, name: str
) -> None:
    """Regression: the validators used ``re.match`` with ``$``, which also matches before a final newline, so
    ``"014abc\\n"`` (what a template often renders to) passed the check and was sent as ``014abc%0A``."""
    with pytest.raises(ValueError, match=name):
        call(OktopostHook(max_retries=0))
    assert rsandbox.count() == 0
