"""The one retry policy: attempts, a deadline, the backoff between; and how layers multiply."""

import math

import pytest

from peppasync.backoff import Backoff
from peppasync.retry import RetryPolicy, max_tries


def test_retrying_stops_when_the_attempts_run_out():
    policy = RetryPolicy(max_attempts=3, backoff=Backoff(base=0.5, cap=4.0, random=lambda: 0.5))

    assert policy.next_delay(1) == 0.25
    assert policy.next_delay(2) == 0.5
    assert policy.next_delay(3) is None


def test_a_wait_that_would_end_past_the_deadline_is_not_taken():
    policy = RetryPolicy(max_attempts=5, deadline=10.0, backoff=Backoff(random=lambda: 0.5))

    assert policy.next_delay(1, elapsed=9.0) == 0.25
    assert policy.next_delay(1, elapsed=9.0, retry_after=5.0) is None


def test_without_a_deadline_only_the_attempts_count():
    policy = RetryPolicy(max_attempts=2, deadline=math.inf)

    assert policy.next_delay(1, elapsed=1e9, retry_after=3600.0) == 3600.0


def test_the_default_is_the_in_handler_layer_a_few_quick_tries():
    policy = RetryPolicy()

    assert (policy.max_attempts, policy.deadline) == (3, 30.0)


def test_nested_layers_bound_the_tries_of_a_step_by_their_product():
    handler = RetryPolicy(max_attempts=3)
    durable = RetryPolicy(max_attempts=5, deadline=math.inf)

    assert max_tries(handler, durable) == 15


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_attempts": 0}, "max_attempts must be an integer of at least 1, got 0"),
        ({"deadline": -1.0}, "deadline must be a number of seconds >= 0 (math.inf: none), got -1.0"),
    ],
)
def test_a_bad_retry_policy_is_refused_saying_which(kwargs, message):
    with pytest.raises(ValueError) as raised:
        RetryPolicy(**kwargs)

    assert str(raised.value) == message


def test_a_backoff_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="backoff must be a peppasync.backoff.Backoff, got 0.5"):
        RetryPolicy(backoff=0.5)  # type: ignore[arg-type]
