"""Webhook dedup keys are kept for their window and then pruned, on SQLite and PostgreSQL."""

from peppasync.store import ops

WEEK = 7 * 24 * 3600.0


def test_dedup_keys_older_than_the_cutoff_are_pruned_and_newer_ones_kept(store, clock):
    store.write([ops.Dedup("shopify", "old-event")])
    clock.advance(WEEK + 3600)
    store.write([ops.Dedup("shopify", "new-event")])

    pruned = store.prune_dedup(before=clock.time() - WEEK)

    old_again, new_again = store.write([ops.Dedup("shopify", "old-event"), ops.Dedup("shopify", "new-event")])
    assert pruned == 1
    assert old_again is True  # forgotten: recorded afresh
    assert new_again is False  # still within its window: a duplicate


def test_pruning_many_keys_goes_batch_by_batch_until_none_is_left(store, clock):
    store.write([ops.Dedup("shopify", f"event-{n}") for n in range(25)])
    clock.advance(WEEK + 1)

    pruned = store.prune_dedup(before=clock.time() - WEEK, batch=10)

    again = store.write([ops.Dedup("shopify", f"event-{n}") for n in range(25)])
    assert pruned == 25
    assert again == [True] * 25


def test_pruning_when_nothing_is_old_enough_prunes_nothing(store, clock):
    store.write([ops.Dedup("wms", "recent")])

    pruned = store.prune_dedup(before=clock.time() - WEEK)

    assert pruned == 0
    assert store.write([ops.Dedup("wms", "recent")]) == [False]
