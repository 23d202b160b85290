import pytest

from supervisors import BackoffState, ConstantBackoffStrategy, ExponentialBackoffStrategy


def test_delays_grow_by_the_factor_until_the_maximum():
    backoff = ExponentialBackoffStrategy(min_delay=3.0, max_delay=30.0, random=lambda: 0.0)

    assert [backoff.delay(n) for n in range(6)] == [3.0, 6.0, 12.0, 24.0, 30.0, 30.0]


def test_jitter_adds_up_to_its_fraction_of_the_delay():
    backoff = ExponentialBackoffStrategy(min_delay=10.0, max_delay=100.0, jitter=0.2, random=lambda: 0.5)

    assert backoff.delay(0) == pytest.approx(11.0)
    assert backoff.delay(10) == pytest.approx(110.0)


def test_the_default_random_source_stays_within_the_jitter():
    backoff = ExponentialBackoffStrategy(min_delay=1.0, max_delay=8.0, jitter=0.5)

    delays = [backoff.delay(1) for _ in range(200)]

    assert all(2.0 <= d < 3.0 for d in delays)
    assert len(set(delays)) > 1


def test_a_very_late_attempt_gets_the_maximum_rather_than_an_overflow():
    backoff = ExponentialBackoffStrategy(min_delay=0.5, max_delay=60.0, random=lambda: 0.0)

    assert backoff.delay(100_000) == 60.0


def test_failures_in_a_row_back_off_further_each_time():
    backoff = ExponentialBackoffStrategy(min_delay=1.0, max_delay=60.0, reset_after=10.0, random=lambda: 0.0)
    state = BackoffState().started(0.0)

    first, state = backoff.next(state, 1.0)
    second, state = backoff.next(state.started(2.0), 3.0)
    third, state = backoff.next(state.started(5.0), 6.0)

    assert (first, second, third) == (1.0, 2.0, 4.0)


def test_a_child_that_ran_quietly_for_reset_after_starts_over_from_the_minimum():
    backoff = ExponentialBackoffStrategy(min_delay=1.0, max_delay=60.0, reset_after=10.0, random=lambda: 0.0)
    state = BackoffState().started(0.0)
    for now in (1.0, 2.0, 3.0):
        _, state = backoff.next(state.started(now - 0.5), now)

    delay, state = backoff.next(state.started(4.0), 14.0)

    assert delay == 1.0
    assert state.attempts == 1


def test_reset_after_defaults_to_the_middle_of_the_range():
    assert ExponentialBackoffStrategy(min_delay=2.0, max_delay=30.0).reset_after == 16.0


def test_a_constant_backoff_waits_the_same_every_time():
    backoff = ConstantBackoffStrategy(2.5)

    assert [backoff.delay(n) for n in range(3)] == [2.5, 2.5, 2.5]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_delay": -1, "max_delay": 1}, "min_delay must be a number >= 0, got -1"),
        ({"min_delay": 5, "max_delay": 1}, "max_delay must be a number >= 5, got 1"),
        ({"min_delay": 1, "max_delay": 2, "factor": 0.5}, "factor must be a number >= 1, got 0.5"),
        ({"min_delay": 1, "max_delay": 2, "jitter": -0.1}, "jitter must be a number >= 0, got -0.1"),
        ({"min_delay": "1", "max_delay": 2}, "min_delay must be a number >= 0, got '1'"),
    ],
)
def test_a_bad_backoff_is_refused_with_what_was_wrong(kwargs, message):
    with pytest.raises(ValueError) as raised:
        ExponentialBackoffStrategy(**kwargs)

    assert str(raised.value) == message


def test_a_negative_attempt_is_refused():
    with pytest.raises(ValueError, match="attempt counts from 0, got -1"):
        ExponentialBackoffStrategy(min_delay=1, max_delay=2).delay(-1)
