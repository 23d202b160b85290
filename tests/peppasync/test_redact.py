"""Redaction masks what is secret and leaves the rest of a message readable."""

import pytest

from peppasync.config import parse_config
from peppasync.redact import Redactor, config_secrets


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://app:p%40ss@db:5432/x", "postgresql://app:***@db:5432/x"),
        ("GET /webhooks/wms?token=abc123 HTTP/1.1", "GET /webhooks/wms?token=*** HTTP/1.1"),
        ("Authorization: Bearer 9f8e7d6c5b", "Authorization: Bearer ***"),
        ("X-Shopify-Access-Token: shpat_1", "X-Shopify-Access-Token: ***"),
        ("{'Authorization': 'Basic a2V5OnNlY3JldA=='}", "{'Authorization': '***'}"),
        ('{"api_secret": "s3", "n": 1}', '{"api_secret": "***", "n": 1}'),
    ],
)
def test_secrets_are_masked_by_their_shape(text, shown):
    assert Redactor().text(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "p.toml: server.ops_token: expected a string, got an integer",
        "Basic authentication failed for the WMS",
        "the webhook secret is wrong: check [shopify] webhook_secret",
    ],
)
def test_words_about_secrets_are_not_mistaken_for_secrets(text):
    assert Redactor(["secret"]).text(text) == text


def test_every_secret_of_a_configuration_is_known_wherever_it_appears():
    config = parse_config({
        "server": {"ops_token": "ops-token-0001"},
        "store": {"url": "postgresql://app:store-pass-0002@db/x"},
        "netsuite": {"token_secret": "ns-secret-0003", "account_id": "1234567"},
    }, environ={})

    redactor = Redactor(config_secrets(config))

    assert config_secrets(config) == {"ops-token-0001", "store-pass-0002", "ns-secret-0003"}
    assert redactor.text("sent ops-token-0001 and ns-secret-0003 to 1234567") == "sent *** and *** to 1234567"
