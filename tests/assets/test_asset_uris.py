"""The ``oktopost`` asset URI scheme: the handler Airflow calls (found by provider discovery), the helpers."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset

from airflow_provider_oktopost.assets import (
    OktopostAssetRef,
    api_host,
    integration_asset,
    integration_uri,
    integrations_asset,
    parse_uri,
)
from airflow_provider_oktopost.get_provider_info import get_provider_info

ACCOUNT = "001000000000001"
ID = "014abcdef012345"


def test_the_scheme_is_registered_with_its_handler() -> None:
    [entry] = get_provider_info()["asset-uris"]
    assert entry == {"schemes": ["oktopost"], "handler": "airflow_provider_oktopost.assets.sanitize_uri"}


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        (f"oktopost://api.oktopost.com/{ACCOUNT}/integrations/{ID}", None),
        (f"oktopost://API.Oktopost.com:443/{ACCOUNT}/integrations/{ID}/", None),
        (f"OKTOPOST://api.oktopost.com/{ACCOUNT}/integrations/{ID}#frag", None),
        (
            f"oktopost://eu-api.oktopost.com/{ACCOUNT}/integrations/",
            f"oktopost://eu-api.oktopost.com/{ACCOUNT}/integrations",
        ),
        (
            f"oktopost://127.0.0.1:8123/{ACCOUNT}/integrations",
            f"oktopost://127.0.0.1:8123/{ACCOUNT}/integrations",
        ),
    ],
)
def test_airflow_normalizes_oktopost_uris_through_the_handler(given: str, normalized: str | None) -> None:
    expected = normalized or f"oktopost://api.oktopost.com/{ACCOUNT}/integrations/{ID}"
    assert Asset(given).uri == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (f"oktopost:///{ACCOUNT}/integrations", "API host is missing"),
        (f"oktopost://api.oktopost.com/{ACCOUNT}/integration/{ID}", "the path must be"),
        (f"oktopost://api.oktopost.com/{ACCOUNT}", "the path must be"),
        (f"oktopost://api.oktopost.com/{ACCOUNT}/integrations/{ID}/extra", "the path must be"),
        ("oktopost://api.oktopost.com/bad%20id/integrations", "not an Oktopost Account ID"),
        (f"oktopost://api.oktopost.com/{ACCOUNT}/integrations/a.b", "not an Oktopost integration Id"),
        (f"oktopost://api.oktopost.com/{ACCOUNT}/integrations?type=cd", "query"),
        (f"oktopost://bad_host!/{ACCOUNT}/integrations", "not a host name"),
    ],
)
def test_malformed_uris_are_refused_when_the_dag_is_parsed(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match="Invalid Oktopost asset URI") as caught:
        Asset(uri)
    assert message in str(caught.value)


def test_user_info_is_refused_by_the_handler() -> None:
    # Airflow 3.3 passes a user name without password on to the handler, 3.0 drops it with a warning.
    with pytest.raises(ValueError, match="must not contain user info"):
        parse_uri(f"oktopost://user@api.oktopost.com/{ACCOUNT}/integrations")


def test_a_password_never_survives_in_a_uri() -> None:
    # Airflow drops user:password itself (with a warning); what is left is checked by our handler.
    with pytest.warns(UserWarning, match="should not contain"):
        asset = Asset(f"oktopost://{ACCOUNT}:secret-key@api.oktopost.com/{ACCOUNT}/integrations")
    assert "secret-key" not in asset.uri
    assert asset.uri == f"oktopost://api.oktopost.com/{ACCOUNT}/integrations"


def test_helpers_build_the_documented_uris() -> None:
    assert integration_uri(ACCOUNT, ID) == f"oktopost://api.oktopost.com/{ACCOUNT}/integrations/{ID}"
    assert integration_uri(ACCOUNT, ID, region="EU").startswith("oktopost://eu-api.oktopost.com/")
    assert (
        integration_uri(ACCOUNT, ID, base_url="http://127.0.0.1:9000/v2")
        == f"oktopost://127.0.0.1:9000/{ACCOUNT}/integrations/{ID}"
    )
    asset = integration_asset(ACCOUNT, ID, region="us", group="oktopost")
    assert (asset.uri, asset.group) == (integration_uri(ACCOUNT, ID), "oktopost")
    assert integrations_asset(ACCOUNT).uri == f"oktopost://api.oktopost.com/{ACCOUNT}/integrations"


def test_helpers_check_their_arguments() -> None:
    with pytest.raises(ValueError, match="region must be one of"):
        api_host(region="asia")
    with pytest.raises(ValueError, match="integration_id must be"):
        integration_uri(ACCOUNT, "../other")
    with pytest.raises(ValueError, match="account_id must be"):
        integrations_asset("")


def test_parse_uri_names_the_parts() -> None:
    ref = parse_uri(f"oktopost://api.oktopost.com/{ACCOUNT}/integrations/{ID}")
    assert ref == OktopostAssetRef("api.oktopost.com", ACCOUNT, ID)
    assert ref.same_account(parse_uri(f"oktopost://api.oktopost.com/{ACCOUNT}/integrations"))
    assert not ref.same_account(OktopostAssetRef("eu-api.oktopost.com", ACCOUNT))
