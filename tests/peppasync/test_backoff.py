"""The one backoff: exponential, jittered, capped; a pure function of the failures in a row."""

import pytest

from peppasync.backoff import Backoff


def test_ceilings_grow_by_the_factor_until_the_cap():
    backoff = Backoff(base=3.0, cap=30.0, jitter=0.0)

    assert [backoff.delay(n) for n in range(1, 7)] == [3.0, 6.0, 12.0, 24.0, 30.0, 30.0]


def test_full_jitter_draws_between_nothing_and_the_ceiling():
    high = Backoff(base=0.5, cap=4.0, random=lambda: 0.999999)
    low = Backoff(base=0.5, cap=4.0, random=lambda: 0.0)

    assert [round(high.delay(n), 3) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [low.delay(n) for n in range(1, 7)] == [0.0] * 6


def test_partial_jitter_keeps_the_wait_above_its_share_of_the_ceiling():
    backoff = Backoff(base=1.0, cap=8.0, jitter=0.5)

    delays = [backoff.delay(2) for _ in range(200)]

    assert all(1.0 <= d < 2.0 for d in delays)
    assert len(set(delays)) > 1


def test_no_wait_ever_exceeds_the_cap():
    backoff = Backoff(base=1.0, cap=5.0, random=lambda: 0.999999)

    assert max(backoff.delay(n) for n in range(1, 50)) <= 5.0


def test_retry_after_is_a_floor_under_the_jittered_wait():
    backoff = Backoff(base=0.5, cap=4.0, random=lambda: 0.5)

    assert backoff.delay(1, retry_after=7.0) == 7.0
    assert backoff.delay(4, retry_after=0.1) == 2.0


def test_a_very_late_failure_gets_the_cap_rather_than_an_overflow():
    backoff = Backoff(base=0.5, cap=60.0, jitter=0.0)

    assert backoff.delay(100_000) == 60.0


def test_a_zero_base_waits_nothing_as_otp_restarts_do():
    assert Backoff(base=0.0, cap=0.0).delay(3) == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"base": -1, "cap": 1}, "base must be a number >= 0, got -1"),
        ({"base": 5, "cap": 1}, "cap must be a number >= 5, got 1"),
        ({"factor": 0.5}, "factor must be a number >= 1, got 0.5"),
        ({"jitter": -0.1}, "jitter must be a number >= 0, got -0.1"),
        ({"jitter": 1.5}, "jitter must be a fraction between 0 and 1, got 1.5"),
        ({"base": "1"}, "base must be a number >= 0, got '1'"),
    ],
)
def test_a_bad_backoff_is_refused_with_what_was_wrong(kwargs, message):
    with pytest.raises(ValueError) as raised:
        Backoff(**kwargs)

    assert str(raised.value) == message


def test_failures_count_from_one():
    with pytest.raises(ValueError, match="failures counts the failures in a row from 1, got 0"):
        Backoff().delay(0)
