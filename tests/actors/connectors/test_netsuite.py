"""The NetSuite connector: what it sends and how it judges NetSuite's answers.

Classification is by status and ``o:errorCode`` only, which stub servers with misleading
details show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from peppasync.config import NetsuiteConfig
from peppasync.errors import ConnectorError

from actors.connectors import NetsuiteConnector, RetryPolicy

from .conftest import Handler, StubServer, json_body

FAST_RETRY = RetryPolicy(max_attempts=4, base=0.001, cap=0.005, budget=5.0)


# -- classification by status and o:errorCode, never by detail ---------------------------------

def _config(url: str) -> NetsuiteConfig:
    return NetsuiteConfig(base_url=url, account_id="1_SB1", consumer_key="ck", consumer_secret="cs", token_id="tk",
                          token_secret="ts", max_concurrency=2, guest_customer="7")


def _answer(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Handler:
    body = {"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html", "title": "Error", "status": status,
            "o:errorDetails": [{"detail": detail, "o:errorCode": code}]}

    def handle(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json", **(headers or {})}, json_body(body)
    return handle


ORDER = {"entity": {"id": "7"}, "item": {"items": [{"item": {"externalId": "PS-0001"}, "quantity": 1}]}}


def test_a_400_whose_detail_reads_like_throttling_is_still_refused_for_good(
        stub: Callable[[Handler], StubServer]) -> None:
    server = stub(_answer(400, "USER_ERROR", "Concurrent request limit exceeded. Request blocked. Try again."))
    erp = NetsuiteConnector(_config(server.url), retry=FAST_RETRY)

    with pytest.raises(ConnectorError) as caught:
        erp.upsert_sales_order(1, ORDER)

    assert (caught.value.transient, caught.value.status, caught.value.code) == (False, 400, "USER_ERROR")
    assert len(server.requests) == 1


def test_a_400_with_a_throttling_code_is_retried_whatever_its_detail_says(
        stub: Callable[[Handler], StubServer]) -> None:
    server = stub(_answer(400, "SSS_REQUEST_LIMIT_EXCEEDED", "Invalid content in the request body."))
    erp = NetsuiteConnector(_config(server.url), retry=FAST_RETRY)

    with pytest.raises(ConnectorError) as caught:
        erp.upsert_sales_order(1, ORDER)

    assert (caught.value.transient, caught.value.code) == (True, "SSS_REQUEST_LIMIT_EXCEEDED")
    assert len(server.requests) == FAST_RETRY.max_attempts
    assert erp.throttled == FAST_RETRY.max_attempts


def test_a_404_that_is_not_netsuites_nonexistent_id_is_an_error_not_a_missing_item(
        stub: Callable[[Handler], StubServer]) -> None:
    server = stub(lambda request: (404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>"))
    erp = NetsuiteConnector(_config(server.url), retry=FAST_RETRY)

    with pytest.raises(ConnectorError) as caught:
        erp.item_cost("PS-0001")

    assert (caught.value.transient, caught.value.status) == (False, 404)


def test_a_write_answered_without_a_location_is_refused_as_outside_the_contract(
        stub: Callable[[Handler], StubServer]) -> None:
    server = stub(lambda request: (204, {}, b""))
    erp = NetsuiteConnector(_config(server.url), retry=FAST_RETRY)

    with pytest.raises(ConnectorError) as caught:
        erp.upsert_sales_order(1, ORDER)

    assert caught.value.transient is False and "Location" in str(caught.value)
