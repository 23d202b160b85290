import gc

from peppasync.heap import YOUNG_GENERATION_THRESHOLD, PauseMeter, full_collections_deferred, tune_garbage_collector


def _cycles(n: int) -> None:
    for _ in range(n):
        a: list[object] = []
        a.append(a)


def test_the_pause_meter_counts_the_collections_made_while_it_is_started_and_their_time():
    meter = PauseMeter()
    meter.start()
    try:
        _cycles(10_000)
        gc.collect()
        gc.collect()
    finally:
        meter.stop()
    seen = meter.figures()
    gc.collect()

    assert meter.figures() == seen  # stopped: a later collection is not counted
    assert seen["count"] >= 2
    assert 0 < seen["longest_seconds"] <= seen["total_seconds"]


def test_a_meter_that_keeps_its_pauses_hands_each_over_once_with_its_generation():
    meter, plain = PauseMeter(keep=True), PauseMeter()
    meter.start()
    plain.start()
    try:
        gc.collect(0)
        gc.collect(2)
        first = meter.drain()
        gc.collect(1)
        second = meter.drain()
    finally:
        meter.stop()
        plain.stop()

    # (a young collection of its own may come between: allocations go on)
    assert first[-1][0] == 2 and 0 in [g for g, _ in first] and all(seconds >= 0 for _, seconds in first)
    assert second[-1][0] == 1 and 2 not in [g for g, _ in second]
    assert meter.drain() == [] and plain.drain() == []  # a meter that does not keep them hands none over


def test_a_tuned_process_collects_its_young_objects_less_often_and_starting_twice_observes_once():
    before = gc.get_threshold()
    try:
        tune_garbage_collector()
        assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
        meter = PauseMeter()
        meter.start()
        meter.start()
        try:
            gc.collect()
        finally:
            meter.stop()
        assert meter.count == 1
    finally:
        gc.set_threshold(*before)


def test_inside_a_deferred_block_young_collections_go_on_but_no_full_one_and_the_thresholds_come_back():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's own
    full: list[int] = []

    def observe(phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.append(1)

    gc.callbacks.append(observe)
    try:
        with full_collections_deferred():
            young = gc.get_stats()[0]["collections"]
            _cycles(700 * 10 * 10 * 3)  # enough for three full collections at those thresholds
            assert gc.get_stats()[0]["collections"] > young
            assert not full
        assert full  # the one the block ends with
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.callbacks.remove(observe)
        gc.set_threshold(*before)
