import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisors import RestartHistory, RestartIntensity


def _restarts(intensity: RestartIntensity, times: list[float]) -> RestartHistory:
    history = RestartHistory()
    for t in times:
        history = intensity.record(history, t)
    return history


def test_the_defaults_are_otps_one_restart_in_five_seconds():
    intensity = RestartIntensity()

    assert (intensity.max_restarts, intensity.period) == (1, 5.0)


def test_one_restart_in_the_period_is_allowed_and_a_second_one_is_too_many():
    intensity = RestartIntensity(max_restarts=1, period=5.0)

    once = _restarts(intensity, [100.0])
    twice = _restarts(intensity, [100.0, 104.0])

    assert not intensity.exceeded(once, 100.0)
    assert intensity.exceeded(twice, 104.0)


def test_restarts_older_than_the_period_no_longer_count():
    intensity = RestartIntensity(max_restarts=1, period=5.0)

    history = _restarts(intensity, [100.0, 105.5])

    assert not intensity.exceeded(history, 105.5)
    assert history.restarts == (105.5,)


def test_zero_restarts_allowed_means_the_first_failure_escalates():
    intensity = RestartIntensity(max_restarts=0, period=5.0)

    assert intensity.exceeded(_restarts(intensity, [1.0]), 1.0)


def test_the_history_never_holds_more_than_the_limit_needs():
    intensity = RestartIntensity(max_restarts=3, period=1000.0)

    history = _restarts(intensity, [float(t) for t in range(50)])

    assert len(history.restarts) == 4


def test_composed_limits_give_up_when_either_one_is_exceeded():
    burst_or_rate = RestartIntensity(3, 1.0) | RestartIntensity(5, 60.0)

    burst = _restarts(burst_or_rate, [0.0, 0.1, 0.2, 0.3])
    sustained = _restarts(burst_or_rate, [0.0, 10.0, 20.0, 30.0, 40.0, 50.0])
    calm = _restarts(burst_or_rate, [0.0, 10.0, 20.0, 30.0, 40.0])

    assert burst_or_rate.exceeded(burst, 0.3)
    assert burst_or_rate.exceeded(sustained, 50.0)
    assert not burst_or_rate.exceeded(calm, 40.0)
    assert str(burst_or_rate) == "3 in 1 s or 5 in 60 s"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_restarts": -1}, "max_restarts must be an integer >= 0, got -1"),
        ({"max_restarts": 1.5}, "max_restarts must be an integer >= 0, got 1.5"),
        ({"period": 0}, "period must be a number of seconds > 0, got 0"),
        ({"period": "5"}, "period must be a number of seconds > 0, got '5'"),
    ],
)
def test_a_bad_limit_is_refused_with_what_was_wrong(kwargs, message):
    with pytest.raises(ValueError) as raised:
        RestartIntensity(**kwargs)

    assert str(raised.value) == message


@given(
    max_restarts=st.integers(min_value=0, max_value=5),
    period=st.floats(min_value=0.5, max_value=20.0),
    gaps=st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=1, max_size=30),
)
def test_the_verdict_matches_counting_every_restart_in_the_window(max_restarts, period, gaps):
    intensity = RestartIntensity(max_restarts, period)
    times = list(itertools.accumulate(gaps))
    history = RestartHistory()

    for i, now in enumerate(times):
        history = intensity.record(history, now)
        in_window = sum(1 for t in times[: i + 1] if t > now - period)

        assert intensity.exceeded(history, now) == (in_window > max_restarts)
