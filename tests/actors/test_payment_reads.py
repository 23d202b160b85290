"""Payment fees are read for many orders at once, and every asker hears its own answer."""

from decimal import Decimal

import gevent
import pytest

from actors.margin_model import Transaction
from actors.payment_reads import PaymentReads


class Storefront:
    """The storefront side of the port: records each read's orders; knows orders below 1000."""

    def __init__(self, fail=False):
        self.reads = []
        self.fail = fail

    def charges(self, order_ids):
        self.reads.append(list(order_ids))
        if self.fail:
            raise ConnectionError("connection reset by peer")
        return {o: (Transaction(Decimal(o), Decimal("0.30")),) if int(o) < 1000 else None for o in order_ids}


def _ask_all(reads, order_ids):
    answers = {}
    for order_id in order_ids:
        reads.ask(order_id, lambda charges, o=order_id: answers.setdefault(o, []).append(charges))
    with gevent.Timeout(5):
        while len(answers) < len(set(order_ids)):
            gevent.sleep(0.01)
    return answers


def test_orders_asked_within_the_linger_share_one_read():
    storefront = Storefront()

    answers = _ask_all(PaymentReads(storefront, batch=50, linger=0.05), ["1", "2", "3", "1000"])

    assert storefront.reads == [["1", "2", "3", "1000"]]
    assert answers == {"1": [(Transaction(Decimal(1), Decimal("0.30")),)],
                       "2": [(Transaction(Decimal(2), Decimal("0.30")),)],
                       "3": [(Transaction(Decimal(3), Decimal("0.30")),)],
                       "1000": [None]}  # the storefront has no such order


def test_a_full_batch_is_read_at_once_and_the_rest_after():
    storefront = Storefront()
    order_ids = [str(n) for n in range(120)]

    answers = _ask_all(PaymentReads(storefront, batch=50, linger=30.0), order_ids[:100])
    assert [len(r) for r in storefront.reads] == [50, 50]  # not waiting out the 30 s linger
    answers.update(_ask_all(PaymentReads(storefront, batch=50, linger=0.05), order_ids[100:]))

    assert [len(r) for r in storefront.reads] == [50, 50, 20]
    assert sorted(answers, key=int) == order_ids


def test_one_order_asked_twice_is_read_once_and_both_askers_hear():
    storefront = Storefront()

    answers = _ask_all(PaymentReads(storefront, linger=0.05), ["7", "7"])

    assert storefront.reads == [["7"]]
    assert answers == {"7": [(Transaction(Decimal(7), Decimal("0.30")),)] * 2}


def test_a_failed_read_tells_every_asker_why():
    answers = _ask_all(PaymentReads(Storefront(fail=True), linger=0.05), ["1", "2"])

    assert {o: [str(a) for a in got] for o, got in answers.items()} == {
        "1": ["connection reset by peer"], "2": ["connection reset by peer"]}


@pytest.mark.parametrize(("batch", "linger"), [(0, 0.5), (10, -1)])
def test_a_batch_below_one_or_a_negative_linger_is_refused(batch, linger):
    with pytest.raises(ValueError, match="batch must be at least 1 and linger not negative"):
        PaymentReads(Storefront(), batch=batch, linger=linger)
