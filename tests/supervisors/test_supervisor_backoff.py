"""Restarts delayed by backoff through the scheduler: the tests move a manual clock, never sleep."""

from peppasync.backoff import Backoff

from supervisors import RestartIntensity

from .doubles import WAIT, crash, supervise, which, workers

ROOMY = RestartIntensity(max_restarts=10, period=5.0)


def _backoff() -> Backoff:
    return Backoff(base=1.0, cap=8.0, jitter=0.0)


def _crash_and_settle(journal, root, child_id: str) -> None:
    exits = len(journal.of("exited"))
    crash(journal, child_id)
    journal.wait_count("exited", exits + 1)
    which(root)  # the supervisor has finished handling the exit


def test_a_crashed_child_comes_back_only_once_its_backoff_delay_has_passed(journal, clock, scheduler):
    root = supervise(
        journal, workers(journal, "a"), backoff=_backoff(), reset_after=30.0, intensity=ROOMY, clock=clock,
        scheduler=scheduler,
    )

    _crash_and_settle(journal, root, "a")
    waiting = which(root)
    scheduler.advance(0.9)
    still_waiting = which(root)
    scheduler.advance(0.1)
    journal.wait_count("restarted", 1)

    assert waiting == still_waiting == [("a", False, 0)]
    assert which(root) == [("a", True, 1)]
    assert journal.of("restarted") == [("restarted", "root", "a", 1.0)]


def test_delays_grow_with_each_crash_in_a_row_and_reset_after_a_quiet_period(journal, clock, scheduler):
    root = supervise(
        journal,
        workers(journal, "a"),
        backoff=_backoff(), reset_after=30.0,
        intensity=RestartIntensity(max_restarts=100, period=5.0),
        clock=clock,
        scheduler=scheduler,
    )
    delays = []
    for _ in range(5):
        _crash_and_settle(journal, root, "a")
        [delay] = scheduler.pending()
        delays.append(delay)
        scheduler.advance(delay)
        journal.wait_count("restarted", len(delays))

    clock.advance(30.0)
    _crash_and_settle(journal, root, "a")

    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert scheduler.pending() == [1.0]


def test_backoff_and_intensity_compose_so_a_crash_loop_still_escalates(journal, clock, scheduler):
    root = supervise(
        journal,
        workers(journal, "a"),
        backoff=_backoff(), reset_after=30.0,
        intensity=RestartIntensity(max_restarts=2, period=60.0),
        clock=clock,
        scheduler=scheduler,
    )

    for round in (1, 2):
        _crash_and_settle(journal, root, "a")
        scheduler.advance(scheduler.pending()[0])
        journal.wait_count("restarted", round)
    crash(journal, "a")
    journal.wait_count("gave_up", 1)

    assert [e[3] for e in journal.of("restarted")] == [1.0, 2.0]
    assert scheduler.pending() == []


def test_stopping_the_supervisor_cancels_its_pending_restarts(journal, clock, scheduler):
    root = supervise(
        journal, workers(journal, "a"), backoff=_backoff(), reset_after=30.0, intensity=ROOMY, clock=clock,
        scheduler=scheduler,
    )
    _crash_and_settle(journal, root, "a")

    root.stop(timeout=WAIT)

    assert scheduler.pending() == []
    assert scheduler.advance(10.0) == 0


def test_with_the_default_gevent_scheduler_the_restart_happens_on_a_real_timer(journal):
    tiny = Backoff(base=0.001, cap=0.002, jitter=0.0)
    root = supervise(journal, workers(journal, "a"), backoff=tiny, intensity=ROOMY)

    crash(journal, "a")
    journal.wait_count("restarted", 1)

    assert which(root) == [("a", True, 1)]
    assert journal.of("restarted") == [("restarted", "root", "a", 0.001)]
