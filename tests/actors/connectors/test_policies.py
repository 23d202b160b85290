"""AIMD: a small value, tested without a clock that moves by itself (retries: tests/peppasync/test_retry.py)."""

from __future__ import annotations

import pytest

from actors.connectors import AimdLimit


def test_aimd_cuts_the_limit_on_a_drop_and_grows_it_back_with_successes_under_load() -> None:
    aimd = AimdLimit(20, minimum=2, maximum=20, backoff_ratio=0.5)

    assert aimd.on_drop(aimd.epoch) == 10
    successes = 0
    while aimd.limit < 20:
        aimd.on_success(0.1, inflight=aimd.limit, epoch=aimd.epoch)
        successes += 1

    assert aimd.limit == 20
    # Additive: a full window of successes per step, 10 + 11 + ... + 19.
    assert successes == sum(range(10, 20))


def test_aimd_cuts_once_for_a_burst_of_drops_from_calls_started_together() -> None:
    aimd = AimdLimit(16, maximum=16, backoff_ratio=0.5)
    epoch = aimd.epoch

    for _ in range(10):
        aimd.on_drop(epoch)

    assert aimd.limit == 8
    assert aimd.on_drop(aimd.epoch) == 4


def test_each_throttle_from_the_epoch_just_cut_takes_one_more_off() -> None:
    aimd = AimdLimit(16, maximum=16, backoff_ratio=0.9)
    epoch = aimd.epoch

    for _ in range(12):
        aimd.on_drop(epoch, throttled=True, inflight=16)

    # One cut to 14, then one step per further refusal: 12 refusals say the ceiling is 4 or less.
    assert aimd.limit == 3


def test_growing_back_towards_a_throttled_concurrency_is_slower() -> None:
    free = AimdLimit(4, maximum=10)
    burned = AimdLimit(5, maximum=10, probe_slowdown=8.0)
    burned.on_drop(burned.epoch, throttled=True, inflight=5)
    assert burned.limit == 4

    def successes_to_grow(aimd: AimdLimit) -> int:
        n = 0
        while aimd.limit == 4:
            aimd.on_success(0.0, inflight=4, epoch=aimd.epoch)
            n += 1
        return n

    assert successes_to_grow(free) == 4
    assert successes_to_grow(burned) == 32


def test_aimd_does_not_grow_when_the_limit_is_not_in_use() -> None:
    aimd = AimdLimit(10, maximum=50)

    for _ in range(100):
        aimd.on_success(0.1, inflight=2, epoch=aimd.epoch)

    assert aimd.limit == 10


def test_a_success_slower_than_the_latency_threshold_counts_as_congestion() -> None:
    aimd = AimdLimit(10, latency_threshold=2.0, backoff_ratio=0.8)

    assert aimd.on_success(2.5, inflight=10, epoch=aimd.epoch) == 8


def test_a_lone_error_answer_among_successes_leaves_the_limit_as_it_is() -> None:
    aimd = AimdLimit(10, maximum=10)

    for _ in range(5):
        aimd.on_error(aimd.epoch)
        for _ in range(10):  # a window of successes between two 503s
            aimd.on_success(0.1, inflight=10, epoch=aimd.epoch)

    assert aimd.limit == 10


def test_a_second_error_answer_within_the_window_cuts_once_for_its_epoch() -> None:
    aimd = AimdLimit(10, maximum=10, backoff_ratio=0.5)
    epoch = aimd.epoch

    first = aimd.on_error(epoch)
    for _ in range(9):  # one success short of the window
        aimd.on_success(0.1, inflight=10, epoch=epoch)
    second = aimd.on_error(epoch)
    for _ in range(8):  # the rest of a burst that started together with them
        aimd.on_error(epoch)

    assert (first, second, aimd.limit) == (10, 5, 5)
    # The next error answer after the cut opens a window again: it alone does not cut.
    assert aimd.on_error(aimd.epoch) == 5
    assert aimd.on_error(aimd.epoch) == 2


def test_aimd_stays_within_its_minimum_and_maximum() -> None:
    aimd = AimdLimit(3, minimum=2, maximum=4, backoff_ratio=0.5)

    for _ in range(5):
        aimd.on_drop(aimd.epoch)
    low = aimd.limit
    for _ in range(100):
        aimd.on_success(0.0, inflight=10, epoch=aimd.epoch)

    assert (low, aimd.limit) == (2, 4)


def test_an_operator_ceiling_takes_over_the_limit_and_caps_growth() -> None:
    aimd = AimdLimit(10, maximum=50)

    aimd.set_ceiling(3)
    for _ in range(50):
        aimd.on_success(0.0, inflight=3, epoch=aimd.epoch)

    assert aimd.limit == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"minimum": 5, "maximum": 2}, "minimum <= maximum"),
        ({"backoff_ratio": 1.0}, "backoff_ratio must be in"),
        ({"latency_threshold": 0}, "latency_threshold must be positive"),
    ],
)
def test_a_bad_aimd_setting_is_refused_saying_which(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AimdLimit(3, **kwargs)  # type: ignore[arg-type]

