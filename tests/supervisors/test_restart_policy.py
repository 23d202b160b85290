"""The restart policy: intensity and backoff together, a pure function of two records and the time."""

import math

import pytest

from peppasync.backoff import Backoff

from supervisors import RestartHistory, RestartIntensity, RestartPolicy, Streak


def _policy(**kwargs) -> RestartPolicy:
    kwargs.setdefault("intensity", RestartIntensity(max_restarts=100, period=60.0))
    kwargs.setdefault("backoff", Backoff(base=1.0, cap=60.0, jitter=0.0))
    return RestartPolicy(**kwargs)


def test_failures_in_a_row_back_off_further_each_time():
    policy = _policy(reset_after=10.0)
    streak = Streak().started(0.0)

    first, streak = policy.delay(streak, 1.0)
    second, streak = policy.delay(streak.started(2.0), 3.0)
    third, streak = policy.delay(streak.started(5.0), 6.0)

    assert (first, second, third) == (1.0, 2.0, 4.0)


def test_a_child_that_ran_quietly_for_reset_after_starts_over_from_the_smallest_delay():
    policy = _policy(reset_after=10.0)
    streak = Streak().started(0.0)
    for now in (1.0, 2.0, 3.0):
        _, streak = policy.delay(streak.started(now - 0.5), now)

    delay, streak = policy.delay(streak.started(4.0), 14.0)

    assert delay == 1.0
    assert streak.failures == 1


def test_reset_after_defaults_to_the_middle_of_the_backoff_range():
    assert _policy(backoff=Backoff(base=2.0, cap=30.0)).reset_after == 16.0
    assert RestartPolicy().reset_after == math.inf


def test_without_a_backoff_a_child_restarts_at_once():
    delay, _, _ = RestartPolicy(RestartIntensity(5, 1.0)).decide(RestartHistory(), Streak(), 0.0)

    assert delay == 0.0


def test_one_restart_past_the_intensity_is_an_escalation():
    policy = _policy(intensity=RestartIntensity(max_restarts=2, period=5.0))
    history, streak = RestartHistory(), Streak()
    decisions = []
    for now in (0.0, 1.0, 2.0):
        delay, history, streak = policy.decide(history, streak, now)
        decisions.append(delay)

    assert decisions == [1.0, 2.0, None]


def test_restarts_older_than_the_period_no_longer_count():
    policy = _policy(intensity=RestartIntensity(max_restarts=1, period=5.0))

    _, history, streak = policy.decide(RestartHistory(), Streak(), 0.0)
    delay, _, _ = policy.decide(history, streak, 6.0)

    assert delay is not None


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"intensity": 3}, TypeError, "intensity must be a RestartIntensity, got 3"),
        ({"backoff": 0.5}, TypeError, "backoff must be a peppasync.backoff.Backoff, got 0.5"),
        ({"reset_after": -1}, ValueError, "reset_after must be a number of seconds >= 0, got -1"),
    ],
)
def test_a_bad_restart_policy_is_refused_with_what_was_wrong(kwargs, error, message):
    with pytest.raises(error) as raised:
        RestartPolicy(**kwargs)

    assert str(raised.value) == message
