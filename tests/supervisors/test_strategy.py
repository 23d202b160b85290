import pytest

from supervisors import OneForAllStrategy, OneForOneStrategy, RestForOneStrategy

CHILDREN = ["store", "http", "connectors", "orders"]


def test_one_for_one_restarts_only_the_child_that_ended():
    assert OneForOneStrategy().affected("http", CHILDREN) == ["http"]


def test_one_for_one_never_walks_the_siblings_so_it_costs_the_same_for_any_number():
    def siblings():
        raise AssertionError("one_for_one looked at the siblings")
        yield  # pragma: no cover

    assert OneForOneStrategy().affected("http", siblings()) == ["http"]


def test_one_for_all_restarts_every_child_in_start_order():
    assert OneForAllStrategy().affected("connectors", CHILDREN) == CHILDREN


def test_rest_for_one_restarts_the_child_and_those_started_after_it():
    assert RestForOneStrategy().affected("http", CHILDREN) == ["http", "connectors", "orders"]


def test_rest_for_one_on_the_last_child_restarts_only_it():
    assert RestForOneStrategy().affected("orders", CHILDREN) == ["orders"]


@pytest.mark.parametrize("strategy", [OneForOneStrategy, OneForAllStrategy, RestForOneStrategy])
def test_strategies_are_plain_values(strategy):
    assert strategy() == strategy() and hash(strategy()) == hash(strategy())
    assert repr(strategy()) == f"{strategy.__name__}()"
