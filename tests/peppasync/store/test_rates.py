"""A rate budget split among a cluster's nodes by what each has waiting (PostgreSQL)."""

from collections.abc import Iterator

import pytest

from peppasync.store import open_store
from peppasync.store.limits import SharedRate

pytestmark = pytest.mark.postgres


@pytest.fixture
def url(postgres_schema_url: str) -> Iterator[str]:
    store = open_store(postgres_schema_url)
    store.migrate()
    store.close()
    yield postgres_schema_url


def test_the_parts_of_the_nodes_add_up_to_the_budget_and_a_busy_node_gets_more_but_an_idle_one_some(url):
    waiting = {"node-1": 0, "node-2": 0, "node-3": 0}
    parts: dict[str, float] = {}
    rates = {name: SharedRate(url, "shopify:rate", node_id=name, demand=lambda n=name: waiting[n],
                              apply=lambda part, n=name: parts.__setitem__(n, part))
             for name in waiting}
    try:
        for rate in rates.values():
            rate.start()
        for rate in rates.values():
            rate._round()  # noqa: SLF001 - one more round each, as the loop would run next
        even = {name: rate.part for name, rate in rates.items()}
        waiting["node-1"] = 7
        for rate in rates.values():
            rate._round()  # noqa: SLF001
        busy = {name: rate.part for name, rate in rates.items()}
    finally:
        for rate in rates.values():
            rate.stop()

    assert even == {name: pytest.approx(1 / 3, abs=0.001) for name in waiting}
    assert busy == {"node-1": 0.8, "node-2": 0.1, "node-3": 0.1}
    assert parts == busy
