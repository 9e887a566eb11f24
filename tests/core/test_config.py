"""Reading the connection: clear errors that name the field, US/EU/host resolution."""

from __future__ import annotations

import pytest

from airflow_provider_oktopost._core.config import config_from_fields, normalize_extras
from airflow_provider_oktopost.exceptions import OktopostConfigError


def make(**kw: object):  # type: ignore[no-untyped-def]
    base: dict[str, object] = {"login": "001abc", "password": "secret-key", "host": None, "extra": {}}
    base.update(kw)
    return config_from_fields("oktopost_default", **base)  # type: ignore[arg-type]


def test_defaults_to_us() -> None:
    config = make()
    assert config.base_url == "https://api.oktopost.com/v2"
    assert config.timeout == 30 and config.retry.max_retries == 3 and config.rate_limit_per_minute == 50
    assert "secret-key" not in repr(config)


def test_eu_region_and_case() -> None:
    assert make(extra={"region": "EU"}).base_url == "https://eu-api.oktopost.com/v2"
    assert make(extra='{"region": "eu"}').base_url == "https://eu-api.oktopost.com/v2"


def test_host_overrides_region() -> None:
    assert (
        make(host="http://127.0.0.1:8099/v2", extra={"region": "eu"}).base_url == "http://127.0.0.1:8099/v2"
    )
    assert make(host="proxy.example.com").base_url == "https://proxy.example.com/v2"
    assert make(host="https://proxy.example.com/").base_url == "https://proxy.example.com/v2"


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"login": None}, "Account ID"),
        ({"login": "  "}, "Account ID"),
        ({"password": None}, "API key"),
        ({"password": ""}, "API key"),
        ({"extra": {"region": "asia"}}, "'region'"),
        ({"extra": {"timeout": "soon"}}, "'timeout'"),
        ({"extra": {"timeout": -1}}, "'timeout'"),
        ({"extra": {"max_retries": "1.5"}}, "'max_retries'"),
        ({"extra": {"rate_limit_per_minute": 0}}, "'rate_limit_per_minute'"),
        ({"extra": "{not json"}, "Extra"),
        ({"host": "ftp://x"}, "Base URL"),
    ],
)
def test_errors_name_the_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(OktopostConfigError, match=field) as info:
        make(**kw)
    assert "secret-key" not in str(info.value)


def test_base_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(OktopostConfigError, match="must not contain credentials") as info:
        make(host="https://user:hunter2@api.oktopost.com/v2")
    assert "hunter2" not in str(info.value)


def test_caller_overrides_extras() -> None:
    config = config_from_fields(
        "c",
        login="001",
        password="k",
        host=None,
        extra={"timeout": 5, "max_retries": 9},
        timeout=2,
        max_retries=0,
    )
    assert config.timeout == 2 and config.retry.max_retries == 0


def test_legacy_prefixed_extras() -> None:
    assert normalize_extras({"extra__oktopost__region": "eu"}) == {"region": "eu"}
    assert normalize_extras({"region": "us", "extra__oktopost__region": "eu"}) == {"region": "us"}
