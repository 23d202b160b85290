"""The SKU lookup: each SKU's search escaped as Shopify's search syntax wants, and sent as a variable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from peppasync.config import parse_config
from peppasync.sandbox import Sandbox

import actors.connectors.shopify_queries as queries
from actors.connectors import ShopifyConnector

from .test_against_sandbox import FAST_RETRY, QUIET

# SKUs merchants really have, and one that looks like search syntax.
AWKWARD_SKUS = ["O'Reilly Mug", 'Tee "Classic" 12\'\'', "C:\\stock\\bin 4", "Cap (navy)", "two\nlines",
                "sku:PS-0001 OR title:x", "Ünïcødé ✓", "12345"]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(QUIET, seed=32, extra_skus=AWKWARD_SKUS)
    sb.start()
    yield sb
    sb.stop()


def _shop(sb: Sandbox) -> ShopifyConnector:
    return ShopifyConnector(parse_config(sb.config_sections()).shopify, retry=FAST_RETRY)


def test_skus_with_quotes_spaces_and_backslashes_are_all_found_in_one_lookup(sandbox: Sandbox) -> None:
    ordinary = sandbox.catalog.items[0]

    found = _shop(sandbox).variants_by_sku([*AWKWARD_SKUS, ordinary.sku, "NO-SUCH-SKU"])

    by_sku = {item.sku: f"gid://shopify/InventoryItem/{item.inventory_item_id}" for item in sandbox.catalog.items}
    assert found == {sku: by_sku[sku] for sku in [*AWKWARD_SKUS, ordinary.sku]}
    assert sandbox.shopify.ledger.outcomes() == {"ok": 1}  # one call, nothing refused


def test_a_sku_given_as_a_number_is_looked_up_as_its_text(sandbox: Sandbox) -> None:
    item = sandbox.catalog.get("12345")
    assert item is not None

    found = _shop(sandbox).variants_by_sku([12345])

    assert found == {"12345": f"gid://shopify/InventoryItem/{item.inventory_item_id}"}


def test_a_search_value_escapes_the_quote_and_the_backslash_only() -> None:
    assert queries.search_value("O'Reilly \\ (navy): \"x\"") == "'O\\'Reilly \\\\ (navy): \"x\"'"


def test_the_search_document_depends_only_on_how_many_skus_there_are() -> None:
    first, first_variables = queries.variants_query(["A", "O'Reilly"])
    second, _ = queries.variants_query(["B", "two\nlines"])

    assert first == second
    assert first_variables == {"q0": "sku:'A'", "q1": "sku:'O\\'Reilly'"}

